import skillroute


def test_all_exports_resolve():
    for name in skillroute.__all__:
        assert getattr(skillroute, name) is not None, name


def test_version_matches_package_metadata():
    from importlib.metadata import version

    assert skillroute.__version__ == version("skillroute")


def test_every_public_name_is_listed_once_and_resolves():
    import skillroute.authoring
    import skillroute.core
    import skillroute.evaluation
    import skillroute.harness
    import skillroute.learning

    assert set(skillroute.__all__) - {"__version__"} == set(skillroute._LOCATIONS)
    for pkg in (skillroute.core, skillroute.learning, skillroute.evaluation, skillroute.authoring,
                skillroute.harness):
        for name in pkg.__all__:
            assert getattr(pkg, name) is not None, f"{pkg.__name__}.{name}"
