"""One module per `id-monitor` subcommand; each registers itself on `commands.app.app`."""
