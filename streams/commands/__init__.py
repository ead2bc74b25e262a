"""One module per `ncrs-monitor` command group, each exposing a typer `app`.

`streams/cli.py` registers each with one line. Keep module-level imports light (typer, stdlib):
import faust, aiokafka and the contracts inside the command functions so `--help` stays fast.
"""
