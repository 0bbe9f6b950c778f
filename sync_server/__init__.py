"""The central server: device sync, QR rating page, administration."""
