"""Local mode: run the app against moto on this machine."""
