"""One module per `arb` subcommand. Each defines `register(subparsers)`; cli.main discovers them.

Modules import their heavy dependencies inside the handler so `arb --help` stays fast.
"""
