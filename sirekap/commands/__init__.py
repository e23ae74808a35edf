"""The sub-commands of `sirekap`; each wires one folder's code."""
