"""``python -m loopml.cli``: the `loopml` command."""

from loopml.cli import main

main()
