"""`StudioPanel`: route-dependent fields, the live estimate, validation, uploads, the key field."""

from __future__ import annotations

import datetime
import html
import json
import re
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pytest
from _mock import BASE_URL, TEAM_KEY, FakeAPI
from _widget_helpers import assert_safe_html

import kling_nb as kn
from kling_nb._render import UPLOAD_CLASS
from kling_nb.widgets import JobCard, StudioPanel
from kling_nb.widgets._display import WIDGET_VIEW_MIME
from kling_nb.widgets._form import save_upload
from kling_nb.widgets._panel import DOUBLE_CLICK_S, INDENT, LABEL_WIDTH


def text(widget: Any) -> str:
    """The words an HTML widget shows (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", str(widget.value)))


def shown(widget: Any) -> bool:
    return widget.layout.display != "none"


@pytest.fixture
def panel(studio: kn.Studio) -> StudioPanel:
    return StudioPanel(studio)


def png_bytes() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (32, 18), (10, 200, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def upload_item(content: bytes, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "image/png",
        "size": len(content),
        "last_modified": datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc),
        "content": memoryview(content),
    }


def all_widgets(root: Any) -> Iterator[Any]:
    yield root
    for child in getattr(root, "children", ()):
        yield from all_widgets(child)


# -- route-dependent fields ---------------------------------------------------------------------


def test_text_route_fields(panel: StudioPanel) -> None:
    assert panel.route.value == "text2video"
    assert list(panel.model.options) == ["kling-v2-6", "kling-v3"]
    assert panel.model.value == "kling-v3"
    assert [v for _, v in panel.mode.options] == ["std", "pro"]
    assert shown(panel.aspect_ratio)
    assert [v for _, v in panel.aspect_ratio.options] == [
        "16:9",
        "9:16",
        "1:1",
    ]
    assert not shown(panel.image_row)


def test_image_route_hides_the_aspect_ratio_and_shows_the_first_frame(panel: StudioPanel) -> None:
    panel.route.value = "image2video"
    assert not shown(panel.aspect_ratio)
    assert shown(panel.image_row)
    assert list(panel.model.options) == ["kling-v2-6", "kling-v3"]


def test_omni_route_takes_its_own_model_and_optional_mode_and_ratio(panel: StudioPanel) -> None:
    panel.model.value = "kling-v2-6"
    panel.route.value = "omni-video"
    assert list(panel.model.options) == ["kling-v3-omni"]
    assert panel.model.value == "kling-v3-omni"
    assert [v for _, v in panel.mode.options] == ["", "std", "pro"]
    assert shown(panel.aspect_ratio)
    assert panel.aspect_ratio.value == "16:9"
    assert [v for _, v in panel.aspect_ratio.options] == ["", "16:9", "9:16", "1:1"]
    assert shown(panel.image_row)
    panel.aspect_ratio.value = ""  # auto: no AspectRatio sent
    panel.mode.value = ""
    panel.prompt.value = "a fox"
    request = panel.request()
    assert isinstance(request, kn.OmniVideo)
    assert request.aspect_ratio is None
    assert request.mode is None
    panel.route.value = "text2video"  # back again: a text model, a concrete ratio and mode
    assert panel.model.value == "kling-v3"
    assert panel.aspect_ratio.value == "16:9"
    assert panel.mode.value == "std"


def test_seedance_shows_its_models_resolutions_and_reference_image(
    panel: StudioPanel, tmp_path: Path
) -> None:
    panel.family.value = "seedance"
    assert not shown(panel.route)  # one route per family beside Kling
    assert list(panel.model.options) == ["seedance-2.0", "seedance-2.0-fast"]
    assert panel.mode.description == "Resolution"
    assert [v for _, v in panel.mode.options] == ["", "720p", "480p"]
    assert [v for _, v in panel.duration.options] == [5, 10, 15]
    assert shown(panel.aspect_ratio)
    assert shown(panel.image_row)
    assert panel.estimate_text() == "0.60 credits"  # auto: the placeholder 720p rate, 5 s
    panel.mode.value = "480p"
    panel.duration.value = 15
    assert panel.estimate_text() == "0.90 credits"
    image = tmp_path / "ref.png"
    image.write_bytes(png_bytes())
    panel.prompt.value = "a heron"
    panel.image_url.value = str(image)
    panel.aspect_ratio.value = "1:1"
    request = panel.request()
    assert request == kn.SeedanceVideo(
        "a heron", images=[image], duration=15, ratio="1:1", resolution="480p"
    )
    assert repr(panel).startswith("<StudioPanel seedance")


def test_grok_takes_a_resolution_and_no_ratio_then_back_to_kling(panel: StudioPanel) -> None:
    panel.duration.value = 10
    panel.family.value = "grok"
    assert list(panel.model.options) == ["grok-imagine-video", "grok-imagine-video-1.5-preview"]
    assert [v for _, v in panel.mode.options] == ["720p", "480p"]
    assert not shown(panel.aspect_ratio)
    assert panel.duration.value == 10  # still offered: kept
    panel.prompt.value = "a comet"
    assert panel.request() == kn.GrokVideo("a comet", duration=10, resolution="720p")
    assert "0.80 credits" in text(panel.cost)
    panel.image_url.value = "https://example.com/first.png"
    with pytest.raises(kn.ValidationError, match=r"1\.5-preview"):
        panel.request()  # an image needs the image-guided model
    panel.model.value = "grok-imagine-video-1.5-preview"
    assert panel.request().image == "https://example.com/first.png"
    panel.duration.value = 15
    panel.family.value = "kling"  # Kling's own options come back
    assert shown(panel.route)
    assert panel.mode.description == "Mode"
    assert (panel.model.value, panel.mode.value, panel.duration.value) == ("kling-v3", "std", 5)


def test_switching_between_text_and_image_keeps_the_chosen_model(panel: StudioPanel) -> None:
    panel.model.value = "kling-v2-6"
    panel.route.value = "image2video"
    assert panel.model.value == "kling-v2-6"


# -- the estimate -----------------------------------------------------------------------------


def test_estimate_updates_on_every_change_before_generate(
    panel: StudioPanel, studio: kn.Studio
) -> None:
    assert text(panel.cost).startswith("≈ 0.35 credits · ")
    panel.mode.value = "pro"
    assert text(panel.cost).startswith("≈ 0.56 credits · ")
    panel.duration.value = 10
    # One level of parentheses; the rate card's whole source is on hover.
    assert (
        text(panel.cost) == "≈ 1.12 credits · 10 s × 0.112 credits/s (pro) · placeholder rate card"
    )
    assert f'title="{html.escape(studio.pricing.source)}"' in panel.cost.value
    assert not studio.jobs


def test_estimate_with_a_custom_rate_card_and_budget(tmp_path: Path) -> None:
    card = kn.RateCard({("kling-v3", "std"): 0.5}, unit="USD", source="my sheet")
    studio = kn.Studio(
        api_key="sk-test", base_url="http://127.0.0.1:9", root=tmp_path, pricing=card, budget=10
    )
    try:
        panel = StudioPanel(studio)
        assert (
            text(panel.cost)
            == "≈ 2.50 USD · 5 s × 0.5 USD/s (std) · my sheet rate card · budget left 10.00 USD"
        )
        panel.mode.value = "pro"
        assert text(panel.cost).startswith("≈ unknown · ")
        assert "no rate for kling-v3 pro" in text(panel.cost)
    finally:
        studio.close()


# -- validation: a message, no traceback, nothing sent ---------------------------------------------


@pytest.mark.parametrize(
    ("route", "prompt", "image", "expected"),
    [
        ("text2video", "", "", "prompt: must be a non-empty description of the video"),
        ("text2video", "   ", "", "prompt: must be a non-empty description"),
        ("text2video", "x" * 2600, "", "prompt: must be at most 2500 characters (got 2600)"),
        ("image2video", "", "ftp://example.com/a.png", "image: must be an http(s) URL"),
        ("image2video", "", "", "image: must be a first-frame image"),
        ("omni-video", "a fox", "javascript:alert(1)", "first_frame: must be an http(s) URL"),
        ("omni-video", "a fox", "https://exa mple.com/a.png", "first_frame: must be a URL without"),
    ],
)
def test_invalid_input_shows_a_red_message_and_sends_nothing(
    panel: StudioPanel, studio: kn.Studio, route: str, prompt: str, image: str, expected: str
) -> None:
    panel.route.value = route
    panel.prompt.value = prompt
    panel.image_url.value = image
    panel.generate.click()
    assert expected in text(panel.message)
    assert "#cf222e" in panel.message.value  # red
    assert "Traceback" not in panel.message.value
    assert not studio.jobs
    assert len(studio.log.df) == 0
    assert panel.cards_box.children == ()
    assert_safe_html(panel.message.value)


def test_a_budget_refusal_is_a_message_too(tmp_path: Path) -> None:
    studio = kn.Studio(api_key="sk-test", base_url="http://127.0.0.1:9", root=tmp_path, budget=0.1)
    try:
        panel = StudioPanel(studio)
        panel.prompt.value = "a fox"
        panel.generate.click()
        assert "budget: must be at most 0.10 credits" in text(panel.message)
        assert not studio.jobs
    finally:
        studio.close()


def test_route_change_clears_the_message(panel: StudioPanel) -> None:
    panel.generate.click()
    assert panel.message.value
    panel.route.value = "omni-video"
    assert panel.message.value == ""


# -- generate -----------------------------------------------------------------------------------


def test_generate_submits_and_puts_a_card_on_top(tmp_path: Path, mock_api: FakeAPI) -> None:
    studio = kn.Studio(TEAM_KEY, base_url=BASE_URL, root=tmp_path, transport=mock_api.transport)
    try:
        panel = StudioPanel(studio)
        panel.prompt.value = "a paper boat on a river"
        panel.mode.value = "pro"
        panel.tags.value = "boats, demo ,"
        panel.generate.click()
        (job,) = studio.jobs.values()
        assert job.prompt == "a paper boat on a river"
        assert job.mode == "pro"
        assert job.tags == ("boats", "demo")
        (card,) = panel.cards_box.children
        assert isinstance(card, JobCard)
        assert card.job is job
        deadline = time.monotonic() + 5
        while job.status != "queued":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        (create,) = mock_api.calls_to("POST", "/v1/videos/text2video")
        assert json.loads(create.content)["Mode"] == "pro"
        panel.prompt.value = "a second boat"
        panel.generate.click()
        assert panel.cards_box.children[0].job.prompt == "a second boat"
        assert repr(panel) == "<StudioPanel text2video api, 2 jobs>"
    finally:
        studio.close()


def test_generate_with_an_uploaded_first_frame_sends_the_saved_file(
    panel: StudioPanel, studio: kn.Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    submitted: list[Any] = []
    monkeypatch.setattr(studio, "submit", lambda request, tags=None: submitted.append(request))
    monkeypatch.setattr(panel, "add_job", lambda job: None)
    panel.route.value = "image2video"
    panel.upload.value = (upload_item(png_bytes(), "../../My Frame!.png"),)
    assert panel.upload.value == ()  # the bytes do not stay in the widget state
    path = panel.first_frame_path
    assert path is not None
    assert path.parent == studio.root / "kling_uploads"
    assert path.name.startswith("My_Frame-")
    assert path.suffix == ".png"
    assert "first frame: kling_uploads/My_Frame-" in text(panel.image_note)
    panel.generate.click()
    (request,) = submitted
    assert isinstance(request, kn.ImageToVideo)
    assert request.image == path
    panel.clear_image.click()
    assert panel.first_frame_path is None
    assert panel.image_note.value == ""


def test_a_non_image_upload_is_refused(panel: StudioPanel, studio: kn.Studio) -> None:
    panel.route.value = "omni-video"
    panel.upload.value = (upload_item(b"<html>not an image</html>", "x.png"),)
    assert "image: must be a PNG, JPEG, WebP or GIF image" in text(panel.message)
    assert panel.first_frame_path is None
    assert panel.upload.value == ()
    assert not (studio.root / "kling_uploads").exists()


def test_save_upload_names_files_by_content(tmp_path: Path) -> None:
    data = png_bytes()
    first = save_upload(data, "C:\\Users\\me\\frame.PNG", tmp_path)
    again = save_upload(data, "other name.png", tmp_path)
    assert first.name.startswith("frame-")
    assert first.suffix == ".png"
    assert first.read_bytes() == data
    assert again.read_bytes() == data
    assert save_upload(data, "....", tmp_path).name.startswith("image-")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        {first.name, again.name, save_upload(data, "....", tmp_path).name}
    )


# -- sandbox banner and the key field ----------------------------------------------------------


def test_keyed_studio_banner_and_no_key_field(panel: StudioPanel) -> None:
    assert "WorldRouter API" in text(panel.banner)
    assert "bills your team" in text(panel.banner)
    assert not shown(panel.key_row)


@pytest.fixture
def sandboxed(studio: kn.Studio) -> kn.Studio:
    # Stand in for the embedded sandbox: the panel only reads `.sandbox.base_url`.
    studio.sandbox = types.SimpleNamespace(base_url="http://127.0.0.1:8123", time_scale=1.0)  # type: ignore[assignment]
    return studio


def test_sandbox_banner_and_password_field(sandboxed: kn.Studio) -> None:
    panel = StudioPanel(sandboxed)
    assert "Sandbox — no credits used" in text(panel.banner)
    assert "WORLDROUTER_API_KEY" in text(panel.banner)
    assert "real credit" in text(panel.banner)
    assert shown(panel.key_row)
    assert isinstance(panel.key_field, widgets.Password)
    assert repr(panel) == "<StudioPanel text2video sandbox, 0 jobs>"


def test_a_key_goes_into_a_new_studio_and_nowhere_else(
    sandboxed: kn.Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "sk-live-CANARY-0123456789"
    panel = StudioPanel(sandboxed)
    panel.key_field.value = key
    assert key not in repr(panel.key_field)
    panel.key_button.click()
    try:
        assert panel.studio is not sandboxed
        assert panel.studio.sandbox is None
        assert panel.studio.root == sandboxed.root
        assert panel.key_field.value == ""
        assert not shown(panel.key_row)
        assert "WorldRouter API" in text(panel.banner)
        assert "bills your team's credit" in text(panel.message)
        for widget in all_widgets(panel):
            assert key not in json.dumps(widget.get_state(), default=str)
            assert key not in repr(widget)
        assert key not in panel.static_html()
        assert key not in repr(panel.studio)
    finally:
        panel.studio.close()


def test_an_empty_key_is_refused(sandboxed: kn.Studio) -> None:
    panel = StudioPanel(sandboxed)
    panel.key_field.value = "   "
    panel.key_button.click()
    assert panel.studio is sandboxed
    assert "api_key: paste a WorldRouter team key first" in text(panel.message)


def test_panel_turns_static_with_its_cards_when_its_studio_closes(
    panel: StudioPanel, studio: kn.Studio, published: list[dict[str, Any]]
) -> None:
    panel._ipython_display_()
    (live,) = published
    assert WIDGET_VIEW_MIME in live["data"]
    panel.prompt.value = "a fox"
    panel.generate.click()
    assert len(published) == 1  # the panel stays live while its Studio is open
    studio.close()
    deadline = time.monotonic() + 5
    while len(published) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    final = published[-1]
    assert final["update"]
    assert final["display_id"] == live["display_id"]
    assert set(final["data"]) == {"text/html", "text/plain"}
    static_html = final["data"]["text/html"]
    assert static_html.count('class="kn-card"') == 1
    assert "enter a key below" not in static_html  # the static panel has no key field
    assert "1 jobs" in final["data"]["text/plain"]


# -- issue 11: one label column, the upload button, one job per double click ------------------


def test_every_label_sits_in_one_column(panel: StudioPanel) -> None:
    labelled = [
        w
        for w in all_widgets(panel)
        if getattr(w, "description", "") and not isinstance(w, widgets.Button)
    ]
    names = [w.description for w in labelled]
    assert names == [
        "API key",
        "Family",
        "Route",
        "Prompt",
        "First frame",
        "Model",
        "Mode",
        "Duration",
        "Aspect ratio",
        "Tags",
        "Estimate",
    ]
    assert {w.style.description_width for w in labelled} == {LABEL_WIDTH}
    for toggles in (panel.family, panel.route, panel.mode, panel.duration):
        # Without it ToggleButtons stack their label above the buttons (issue 11's picture).
        assert "widget-inline-hbox" in toggles._dom_classes
    for unlabelled in (panel.message, panel.generate, panel.image_note):
        assert INDENT in unlabelled.layout.margin  # lines up with the fields, not the labels
    assert LABEL_WIDTH in INDENT


def test_the_upload_button_never_says_upload_0(panel: StudioPanel) -> None:
    assert panel.upload.description == ""
    assert UPLOAD_CLASS in panel.upload._dom_classes
    css = panel.children[0].value
    assert f".{UPLOAD_CLASS}{{font-size:0 !important}}" in css  # hides "<description> (0)"
    assert f'.{UPLOAD_CLASS}::after{{content:"Upload image…"' in css
    assert panel.children[0].layout.display == "none"


def test_a_double_click_creates_one_job(
    panel: StudioPanel, studio: kn.Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, bool]] = []
    monkeypatch.setattr(
        studio,
        "submit",
        lambda request, tags=None: calls.append((request, panel.generate.disabled)),
    )
    monkeypatch.setattr(panel, "add_job", lambda job: None)
    now = [100.0]
    panel._clock = lambda: now[0]
    panel.prompt.value = "a fox"
    panel.generate.click()
    panel.generate.click()
    assert len(calls) == 1
    assert calls[0][1] is True  # disabled while the submit ran
    assert not panel.generate.disabled
    panel.prompt.value = "a different fox"
    panel.generate.click()
    assert len(calls) == 2  # a changed request is a new job at once
    now[0] += DOUBLE_CLICK_S + 0.1
    panel.generate.click()
    assert len(calls) == 3  # the same request again later is a deliberate re-generate
