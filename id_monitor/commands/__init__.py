"""One module per `id-monitor` subcommand; each registers itself on `id_monitor.cli.app`."""
