"""ncrs-monitor: real-time NCRS compliance monitoring for police crime recording."""
