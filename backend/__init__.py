"""Compile captured modules with a codegen backend; check parity; time them."""
