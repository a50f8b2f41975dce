import skillroute


def test_all_exports_resolve():
    for name in skillroute.__all__:
        assert getattr(skillroute, name) is not None, name


def test_version_matches_package_metadata():
    from importlib.metadata import version

    assert skillroute.__version__ == version("skillroute")
