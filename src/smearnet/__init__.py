"""smearnet: a NumPy autodiff engine, a Keras-style neural-network library on it, and a malaria
thin-smear cell classifier built on both."""

__version__ = "0.1.0"
