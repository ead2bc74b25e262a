"""The inspection-style compliance report: a replay's measures as tables, JSON and HTML.

`build_view` turns a replay's report document into sections of rows (counts, rates and 95%
intervals, with small-number suppression); `render_table`, `view_to_json` and `render_html` draw
the same view for a terminal, a machine and a chief officer.
"""
