"""好差评 shared domain: levels, channels, configuration, signed QR tokens and the command line."""
