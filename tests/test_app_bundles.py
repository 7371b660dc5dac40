"""Each study has its own bundle in the sidebar: the chest panel loads a chest bundle from
its own default, names an aneurysm bundle typed into it instead of loading it, and a
session keeps both studies' active bundles side by side."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

TIMEOUT = 120


def _panel(study: str) -> None:
    import streamlit as st

    from ui.bundle import active_bundle, bundle_sidebar

    bundle_sidebar(study)
    active = active_bundle(study)
    st.write(f"{study}: {'none' if active is None else active.bundle.study}")


def _both() -> None:
    import streamlit as st

    from ui.bundle import active_bundle, bundle_sidebar

    bundle_sidebar("aneurysm")
    bundle_sidebar("chest")
    for study in ("aneurysm", "chest"):
        active = active_bundle(study)
        st.write(f"{study}: {'none' if active is None else active.bundle.path.name}")


def _texts(elements: object) -> str:
    return "\n".join(str(e.value) for e in elements)  # type: ignore[attr-defined]


def test_the_chest_panel_loads_its_own_default(app_env: Path, chest_env: Path) -> None:
    at = AppTest.from_function(_panel, args=("chest",), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.text_input(key="chest_bundle_dir").value == str(chest_env)
    assert "chest: chest" in _texts(at.markdown)
    assert "Threshold rule" in _texts(at.sidebar.caption)


def test_an_aneurysm_bundle_in_the_chest_panel_is_named_not_loaded(
    app_env: Path, chest_env: Path
) -> None:
    at = AppTest.from_function(_panel, args=("chest",), default_timeout=TIMEOUT)
    at.session_state["chest_bundle_dir"] = str(app_env)  # the tiny aneurysm bundle
    at.run()
    assert not at.exception
    assert "chest: none" in _texts(at.markdown)
    info = _texts(at.sidebar.info)
    assert "Cerebral aneurysm" in info and "not a Chest X-ray" in info


def test_one_session_holds_both_studies_bundles(app_env: Path, chest_env: Path) -> None:
    at = AppTest.from_function(_both, default_timeout=TIMEOUT).run()
    assert not at.exception
    shown = _texts(at.markdown)
    assert f"aneurysm: {app_env.name}" in shown and f"chest: {chest_env.name}" in shown
