"""Builds the compiled fingerprint kernel; everything else is configured in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "whence.index._fastfp",
            sources=["index/_fastfp.c"],
            extra_compile_args=["-O3", "-std=c99"],
        )
    ]
)
