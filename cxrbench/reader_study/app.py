"""The reader web app (Flask): one item at a time, answers stored at once, a private link per reader.

Routes (TOKEN is the reader's private token from readers.json; any other token gets 404):

- ``GET  /r/TOKEN``                 the page (HTML, plain JS and CSS from package data)
- ``GET  /r/TOKEN/state``           design, scale, progress and the next unanswered item (JSON)
- ``POST /r/TOKEN/answer``          {item, response 1..5, reason, seconds} -> the new state
- ``GET  /r/TOKEN/answers``         this reader's own answers (JSON)
- ``GET  /r/TOKEN/image/ID.png``    a served image, looked up by id in the study's item list
"""

from __future__ import annotations

import hmac
import math
import re
from pathlib import Path

from cxrbench.errors import MissingDependencyError
from cxrbench.metrics.reader_measures import REASONS
from cxrbench.reader_study.design import LABELS, QUESTIONS, SCALE, Design, ReaderStudyError, reason_problem
from cxrbench.reader_study.store import Answer, AnswerStore
from cxrbench.reader_study.study import IMAGES, Study

_IMAGE_ID = re.compile(r"^[0-9a-f]{12}$")


def _flask():
    try:
        import flask
    except ImportError:  # pragma: no cover - flask is a dependency; a broken install gets the hint
        raise MissingDependencyError("the reader-study app needs Flask: pip install flask") from None
    return flask


def create_app(study_dir: Path):
    """A Flask app serving the study in ``study_dir`` (answers go to its answers.sqlite)."""
    flask = _flask()
    study = Study(Path(study_dir))
    if not study.readers:
        raise ReaderStudyError(f"{study_dir} has no readers; prepare the study with --readers")
    store = AnswerStore(study.answers_path)
    images = (study.served / IMAGES).resolve()
    served = {item["id"]: item for item in study.items}
    app = flask.Flask(__name__, template_folder="templates", static_folder="static", static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = 4096  # an answer is a few dozen bytes

    def reader_of(token: str) -> str:
        for reader, secret in study.readers.items():
            if hmac.compare_digest(secret.encode(), token.encode()):
                return reader
        flask.abort(404)

    def state(reader: str) -> dict:
        order = study.order(reader)
        done = study.item_ids & store.answered(reader)
        following = next((item_id for item_id in order if item_id not in done), None)
        item = None
        if following is not None:
            item = {
                "id": following,
                "finding": served[following]["finding"],
                "images": [f"image/{image}.png" for image in served[following]["images"]],
            }
        return {
            "reader": reader,
            "design": study.design.value,
            "question": QUESTIONS[study.design],
            "labels": LABELS[study.design],
            # pairs, not an object: JSON objects are sent with sorted keys, the protocol has an order
            "reasons": [[r, k] for r, k in REASONS.items()] if study.design is Design.PAIRED else [],
            "total": len(order),
            "answered": len(done),
            "item": item,
        }

    @app.get("/r/<token>")
    def page(token: str):
        reader = reader_of(token)
        return flask.render_template("reader.html", reader=reader, design=study.design.value)

    @app.get("/r/<token>/state")
    def get_state(token: str):
        return flask.jsonify(state(reader_of(token)))

    @app.post("/r/<token>/answer")
    def post_answer(token: str):
        reader = reader_of(token)
        body = flask.request.get_json(silent=True)
        problem = _answer_problem(study, body)
        if problem:
            return flask.jsonify({"error": problem}), 400
        seconds = float(body["seconds"])
        store.add(
            Answer(
                reader, body["item"], int(body["response"]), body.get("reason") or None, round(seconds, 3), source="app"
            )
        )
        return flask.jsonify(state(reader))

    @app.get("/r/<token>/answers")
    def own_answers(token: str):
        reader = reader_of(token)
        return flask.jsonify(
            [
                {"item": a.item, "response": a.response, "reason": a.reason, "seconds": a.seconds}
                for a in store.answers(reader)
            ]
        )

    @app.get("/r/<token>/image/<name>")
    def image(token: str, name: str):
        reader_of(token)
        image_id = name.removesuffix(".png")
        # Only ids listed in items.json: no path from the URL ever reaches the file system.
        if not name.endswith(".png") or not _IMAGE_ID.match(image_id) or image_id not in study.image_ids:
            flask.abort(404)
        response = flask.send_file(images / f"{image_id}.png", mimetype="image/png", max_age=3600)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @app.after_request
    def no_referrer(response):
        # The token is in the URL: keep it out of Referer headers and caches of shared machines.
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    return app


def _answer_problem(study: Study, body: object) -> str | None:
    """Why a posted answer cannot be stored, or None."""
    if not isinstance(body, dict):
        return "send JSON {item, response, reason, seconds}"
    if body.get("item") not in study.item_ids:
        return "unknown item"
    response = body.get("response")
    if not isinstance(response, int) or isinstance(response, bool) or response not in SCALE:
        return "response must be 1, 2, 3, 4 or 5"
    seconds = body.get("seconds")
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not math.isfinite(seconds) or seconds < 0:
        return "seconds must be a number of seconds, 0 or more"
    reason = body.get("reason") or None
    if study.design is Design.PAIRED and response != 3 and reason is None:
        return "a decided paired answer needs a reason"
    return reason_problem(study.design, response, reason)


def serve(study_dir: Path, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Run the app until interrupted (Werkzeug's threaded server: enough for a handful of readers)."""
    app = create_app(study_dir)
    app.run(host=host, port=port, threaded=True, debug=False, use_reloader=False)


def reader_links(study_dir: Path, host: str, port: int) -> dict[str, str]:
    """Reader id -> private link for a server at ``host:port``."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return {reader: f"http://{shown}:{port}/r/{token}" for reader, token in Study(Path(study_dir)).readers.items()}
