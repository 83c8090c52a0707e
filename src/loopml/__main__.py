"""``python -m loopml``: the `loopml` command."""

from loopml.cli import main

main()
