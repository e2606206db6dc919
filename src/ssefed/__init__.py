"""ssefed: federated directories of Social and Solidarity Economy networks."""

__version__ = "0.1.0"
