"""The `shopassist` command line (entry point `assistant.cli.main:main`)."""
