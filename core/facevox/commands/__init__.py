"""Core CLI commands, each module exposing a :class:`click.Command` named ``command``."""
