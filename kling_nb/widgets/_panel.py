"""`StudioPanel`: the generate form over a Studio (what `studio.panel()` and `kn.panel()` show)."""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import ipywidgets as widgets

from .._errors import KlingError, ValidationError
from .._render import (
    UPLOAD_CLASS,
    banner_html,
    estimate_html,
    message_html,
    panel_css,
    panel_html,
    panel_text,
)
from ._card import JobCard, watch_close
from ._display import Bundle, LiveDisplay, live_bundle, static_bundle
from ._form import (
    FAMILY_OPTIONS,
    ROUTE_FIELDS,
    ROUTE_OPTIONS,
    UPLOADS_FOLDER,
    aspect_options,
    build_request,
    duration_options,
    estimate_parts,
    form_route,
    mode_options,
    models_for,
    parse_tags,
    save_upload,
    validation_text,
)
from ._live import stop_timer

if TYPE_CHECKING:
    from .._families import AnyRequest
    from .._jobs import Job
    from .._studio import Studio

__all__ = ["DOUBLE_CLICK_S", "INDENT", "LABEL_WIDTH", "StudioPanel"]

LABEL_WIDTH: Final = "100px"
"""Every field's label (its ipywidgets description) sits in one column of this width."""
INDENT: Final = f"calc({LABEL_WIDTH} + 2 * var(--jp-widgets-inline-margin, 4px))"
"""How far unlabelled lines (message, Generate) are indented to line up with the fields."""
DOUBLE_CLICK_S: Final = 1.0
"""The same request sent again within this many seconds is a double click: not re-sent."""
_LABEL: Final = {"description_width": LABEL_WIDTH}
_HIDDEN = "none"
_SHOWN = ""


def _show(widget: Any, visible: bool) -> None:
    widget.layout.display = _SHOWN if visible else _HIDDEN


def _choose(widget: Any, options: list[Any], fallback: object) -> None:
    """Give `widget` new options, keeping its value while it is still one of them."""
    values = [item[1] if isinstance(item, tuple) else item for item in options]
    keep = widget.value if widget.value in values else fallback
    widget.options = options
    widget.value = keep


def _toggles(**kwargs: Any) -> Any:
    """ToggleButtons labelled in the label column (the `widget-inline-hbox` class they lack)."""
    toggles = widgets.ToggleButtons(style=_LABEL, **kwargs)
    toggles.add_class("widget-inline-hbox")
    return toggles


class StudioPanel(widgets.VBox):  # type: ignore[misc]
    """Type a prompt, pick family, route, model, mode, duration and ratio, see the cost, Generate.

    Only the fields the chosen family and route accept are shown (Seedance and Grok pick a
    resolution where Kling picks a mode); the estimate updates on every change. Invalid input
    shows a red one-line message and sends nothing. Generate submits once per press (a double
    click sends one job) and puts a live `JobCard` atop the panel's job list.

    With the sandbox serving, a banner says so and a password field takes a real key, which goes
    straight into a new Studio (same folder) and leaves the field empty: it lives in no widget
    state, repr or saved notebook. When its Studio closes, every output of the panel turns into
    the static panel (banner, its jobs' cards, filmstrips): `live.finish()`.
    """

    def __init__(self, studio: Studio, *, base_dir: str | os.PathLike[str] | None = None) -> None:
        super().__init__(layout=widgets.Layout(max_width="820px"))
        self.studio = studio
        self.base_dir = base_dir
        self.cards: list[JobCard] = []
        self.first_frame_path: Path | None = None
        self.live = LiveDisplay(self._live_bundle, self.static_bundle)
        self._clock: Callable[[], float] = time.monotonic
        self._submitting = False
        self._last_sent: tuple[object, float] | None = None
        self._make_fields()
        self.children = self._layout()
        for choice in (self.family, self.route):
            choice.observe(self._on_route, names="value")
        for field in (self.model, self.mode, self.duration):
            field.observe(self._on_estimate_input, names="value")
        self.upload.observe(self._on_upload, names="value")
        self.clear_image.on_click(self._on_clear_image)
        self.generate.on_click(self._on_generate)
        self.key_button.on_click(self._on_key)
        self._apply_route()
        self._show_where()
        self._watches = [(studio, watch_close(studio, self))]

    def _make_fields(self) -> None:
        wide = widgets.Layout(width="auto", flex="1 1 auto")
        self.banner = widgets.HTML()
        self.key_field = widgets.Password(
            description="API key", placeholder="WorldRouter team key", style=_LABEL
        )
        self.key_button = widgets.Button(description="Use key", tooltip="bills real credit")
        self.family = _toggles(options=FAMILY_OPTIONS, value="kling", description="Family")
        self.route = _toggles(options=ROUTE_OPTIONS, value="text2video", description="Route")
        self.prompt = widgets.Textarea(
            description="Prompt",
            placeholder="Describe the video…",
            layout=widgets.Layout(width="98%", height="80px"),
            style=_LABEL,
        )
        self.image_url = widgets.Text(
            description="First frame",
            placeholder="https://… image URL, or upload a file →",
            layout=wide,
            style=_LABEL,
        )
        self.upload = widgets.FileUpload(
            accept="image/png,image/jpeg,image/webp,image/gif",
            multiple=False,
            description="",
            tooltip="upload a first-frame image (PNG, JPEG, WebP or GIF)",
        )
        self.upload.add_class(UPLOAD_CLASS)
        self.clear_image = widgets.Button(description="clear", layout=widgets.Layout(width="60px"))
        self.image_note = widgets.HTML(layout=widgets.Layout(margin=f"0 0 0 {INDENT}"))
        self.model = widgets.Dropdown(description="Model", style=_LABEL)
        self.mode = _toggles(description="Mode")
        self.duration = _toggles(
            options=[("5 s", 5), ("10 s", 10)], value=5, description="Duration"
        )
        self.aspect_ratio = widgets.Dropdown(description="Aspect ratio", style=_LABEL)
        self.tags = widgets.Text(
            description="Tags", placeholder="comma-separated (optional)", style=_LABEL
        )
        self.cost = widgets.HTML(description="Estimate", style=_LABEL)
        self.message = widgets.HTML(layout=widgets.Layout(margin=f"2px 2px 2px {INDENT}"))
        self.generate = widgets.Button(
            description="Generate",
            button_style="primary",
            icon="play",
            layout=widgets.Layout(margin=f"2px 2px 2px {INDENT}"),
        )
        self.cards_box = widgets.VBox()

    def _layout(self) -> tuple[Any, ...]:
        self.key_row = widgets.HBox([self.key_field, self.key_button])
        self.image_row = widgets.VBox(
            [widgets.HBox([self.image_url, self.upload, self.clear_image]), self.image_note]
        )
        style = widgets.HTML(value=panel_css(), layout=widgets.Layout(display="none"))
        return (
            style,
            self.banner,
            self.key_row,
            self.family,
            self.route,
            self.prompt,
            self.image_row,
            self.model,
            self.mode,
            self.duration,
            self.aspect_ratio,
            self.tags,
            self.cost,
            self.message,
            self.generate,
            self.cards_box,
        )

    def __repr__(self) -> str:
        where = "sandbox" if self.studio.sandbox is not None else "api"
        return f"<StudioPanel {self.form_route} {where}, {len(self.cards)} jobs>"

    # -- what the form says ------------------------------------------------------------------

    @property
    def form_route(self) -> str:
        """The route key the form describes (Kling's chosen route, or `seedance` / `grok`)."""
        return form_route(self.family.value, self.route.value)

    def request(self) -> AnyRequest:
        """The request the form describes now (raises `ValidationError` if it is invalid)."""
        image: str | Path | None = self.first_frame_path or self.image_url.value.strip() or None
        return build_request(
            self.form_route,
            prompt=self.prompt.value,
            model=self.model.value,
            mode=self.mode.value,
            duration=int(self.duration.value),
            aspect_ratio=self.aspect_ratio.value or "",
            image=image if ROUTE_FIELDS[self.form_route].first_frame else None,
        )

    def estimate_text(self) -> str:
        """The estimated cost of the request the form describes, e.g. '0.35 credits'."""
        return self._estimate()[0]

    def _estimate(self) -> tuple[str, str]:
        mode = self.mode.value or None
        return estimate_parts(self.studio.pricing, self.model.value, mode, self.duration.value)

    def static_html(self) -> str:
        """The panel as static HTML: its banner and the cards of its jobs, with filmstrips."""
        return str(self.static_bundle()["text/html"])

    def static_bundle(self) -> Bundle:
        """The final output of this panel: static HTML and the same in plain text."""
        snapshots = [card.job.snapshot() for card in reversed(self.cards)]
        url, base = self._sandbox_url(), self.studio.client.base_url
        markup = panel_html(
            sandbox_url=url,
            base_url=base,
            snapshots=snapshots,
            base_dir=self.base_dir,
            pictures=True,
        )
        return static_bundle(markup, panel_text(snapshots, base_dir=self.base_dir))

    def _live_bundle(self) -> Bundle:
        text = "kling_nb generate panel (live; the static panel replaces it when its Studio closes)"
        return live_bundle(self.model_id, text)

    def finish(self) -> None:
        """Turn every output of this panel into the static panel (its Studio closed)."""
        self.live.finish()

    def _sandbox_url(self) -> str | None:
        return None if self.studio.sandbox is None else str(self.studio.sandbox.base_url)

    def _show_where(self) -> None:
        self.banner.value = banner_html(
            sandbox_url=self._sandbox_url(), base_url=self.studio.client.base_url
        )
        _show(self.key_row, self.studio.sandbox is not None)

    def _say(self, text: str, *, error: bool = True) -> None:
        self.message.value = message_html(text, error=error)

    # -- reacting to the form -------------------------------------------------------------

    def _apply_route(self) -> None:
        route = self.form_route
        fields = ROUTE_FIELDS[route]
        _show(self.route, self.family.value == "kling")
        self.mode.description = "Mode" if self.family.value == "kling" else "Resolution"
        _choose(self.duration, duration_options(route), 5)
        _choose(self.model, models_for(route), fields.default_model)
        modes, ratios = mode_options(route), aspect_options(route)
        _choose(self.mode, modes, modes[0][1])
        _choose(self.aspect_ratio, ratios, ratios[0][1])
        _show(self.image_row, fields.first_frame)
        _show(self.aspect_ratio, fields.aspect_ratio)
        self.prompt.placeholder = (
            "Describe the motion (optional)…" if route == "image2video" else "Describe the video…"
        )
        self._update_estimate()

    def _on_route(self, _change: dict[str, Any]) -> None:
        self._say("")
        self._apply_route()

    def _on_estimate_input(self, _change: dict[str, Any]) -> None:
        self._update_estimate()

    def _update_estimate(self) -> None:
        if self.model.value is None or self.duration.value is None:
            return
        pricing = self.studio.pricing
        amount, detail = self._estimate()
        budget = None
        if self.studio.budget is not None:
            budget = pricing.format(self.studio.budget - self.studio.committed_cost())
        self.cost.value = estimate_html(
            amount=amount, detail=detail, source=pricing.source, budget=budget
        )

    def _on_upload(self, change: dict[str, Any]) -> None:
        files = change["new"]
        if not files:
            return
        item = files[0]
        try:
            path = save_upload(
                bytes(item["content"]),
                str(item.get("name") or "image"),
                self.studio.root / UPLOADS_FOLDER,
            )
        except ValidationError as exc:
            self._say(validation_text(exc))
        else:
            self.first_frame_path = path
            self.image_note.value = message_html(
                f"first frame: {UPLOADS_FOLDER}/{path.name} (uploaded when you press Generate)",
                error=False,
            )
            self._say("")
        finally:
            # Keep the image bytes out of the widget state (and so out of saved notebooks).
            self.upload.value = ()

    def _on_clear_image(self, _button: Any = None) -> None:
        self.first_frame_path = None
        self.image_url.value = ""
        self.image_note.value = ""

    def _on_generate(self, _button: Any = None) -> Job | None:
        if self._submitting:
            return None
        try:
            request = self.request()
            tags = parse_tags(self.tags.value)
        except ValidationError as exc:
            self._say(validation_text(exc))
            return None
        sent = (request, tuple(tags))
        last = self._last_sent
        if last is not None and last[0] == sent and self._clock() - last[1] < DOUBLE_CLICK_S:
            return None  # the second click of a double click: that job exists already
        self._submitting = True
        self.generate.disabled = True
        try:
            job = self.studio.submit(request, tags=tags)
        except ValidationError as exc:
            self._say(validation_text(exc))
            return None
        except KlingError as exc:
            self._say(str(exc))
            return None
        finally:
            self._submitting = False
            self.generate.disabled = False
        self._last_sent = (sent, self._clock())
        self._say("")
        self.add_job(job)
        self._update_estimate()
        return job

    def add_job(self, job: Job) -> JobCard:
        """Show a live card for `job` at the top of the panel's job list."""
        card = JobCard(job, base_dir=self.base_dir)
        self.cards.append(card)
        self.cards_box.children = (card, *self.cards_box.children)
        ref = weakref.ref(self)

        def on_change(_job: Job) -> None:
            panel = ref()
            if panel is not None and panel.live.finished:
                panel.live.finish()  # a job that ends after its Studio closed

        job.on_change(on_change)
        on_change(job)
        return card

    def _on_key(self, _button: Any = None) -> None:
        from .._studio import Studio

        entered = self.key_field.value.strip()
        self.key_field.value = ""  # the key must not stay in any widget state
        if not entered:
            self._say("api_key: paste a WorldRouter team key first")
            return
        old = self.studio
        try:
            self.studio = Studio(
                api_key=entered,
                root=old.root,
                max_in_flight=old.max_in_flight,
                pricing=old.pricing,
                budget=old.budget,
                timeout=old.timeout,
            )
        except KlingError as exc:
            self._say(str(exc))
            return
        self._show_where()
        self._update_estimate()
        self._watches.append((self.studio, watch_close(self.studio, self)))
        self._say(
            "Using the WorldRouter API now: Generate bills your team's credit. "
            "(panel.studio is the new Studio; the sandbox one keeps its jobs.)",
            error=False,
        )

    def close(self) -> None:
        """Leave the static panel where it was shown; close the panel, its cards and fields."""
        if self.comm is not None:
            self.finish()
        for studio, watch in self._watches:
            stop_timer(studio, watch)
        for card in self.cards:
            card.close()
        for child in self.children:
            child.close()
        super().close()

    def _ipython_display_(self) -> None:
        self.live.show()
