"""The ``wsa-harness`` command: :mod:`harness.cli.main` holds the command
table; each other module is one family of subcommands over
:mod:`harness.cli.common`."""
