"""Fixtures of the postprocess tests (builders live in pp_synthetic.py)."""

import pytest

import pp_synthetic


@pytest.fixture
def curves():
    return pp_synthetic.curve_dataset()


@pytest.fixture
def family():
    return pp_synthetic.family_dataset()


@pytest.fixture
def rf():
    return pp_synthetic.rf_datasets()
