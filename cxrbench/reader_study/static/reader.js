// One item at a time: pick a point of the scale (click or 1-5), a reason for a decided paired
// answer (click or its letter), then Next (click or Enter). The answer is stored before the next
// item is shown; reloading the page asks the server for the first unanswered item again.
"use strict";

const base = window.location.pathname.replace(/\/$/, "");
const $ = (id) => document.getElementById(id);
let state = null;
let choice = { response: null, reason: null };
let shownAt = null;   // performance.now() when the item's images had loaded
let sending = false;

function button(text, key, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  const k = document.createElement("kbd");
  k.textContent = key;
  b.append(k);
  b.setAttribute("aria-pressed", "false");
  b.addEventListener("click", onClick);
  return b;
}

function needsReason() {
  return state.design === "paired" && choice.response !== null && choice.response !== 3;
}

function refresh() {
  document.querySelectorAll("#scale button").forEach((b, i) =>
    b.setAttribute("aria-pressed", String(choice.response === i + 1)));
  $("reasons").hidden = !needsReason();
  document.querySelectorAll("#reasons button").forEach((b) =>
    b.setAttribute("aria-pressed", String(choice.reason === b.dataset.reason)));
  $("next").disabled = sending || shownAt === null || choice.response === null || (needsReason() && !choice.reason);
}

function choose(response) {
  choice.response = response;
  if (!needsReason()) choice.reason = null;
  refresh();
}

function render(next) {
  state = next;
  choice = { response: null, reason: null };
  shownAt = null;
  if (!state.item) {
    $("study").hidden = true;
    $("finished").hidden = false;
    $("progress").textContent = `${state.answered} / ${state.total}`;
    return;
  }
  $("progress").textContent = `${state.answered + 1} / ${state.total}`;
  $("question").textContent = state.question.replace("{finding}", state.item.finding.toLowerCase());
  const images = $("images");
  images.replaceChildren();
  const sides = ["Left", "Right"];
  const loads = state.item.images.map((src, i) => {
    const figure = document.createElement("figure");
    if (state.item.images.length > 1) {
      const caption = document.createElement("figcaption");
      caption.textContent = sides[i];
      figure.append(caption);
    }
    const img = document.createElement("img");
    img.alt = state.item.images.length > 1 ? `${sides[i]} image` : "image";
    img.src = `${base}/${src}`;
    figure.append(img);
    images.append(figure);
    return img.decode().catch(() => undefined);
  });
  Promise.all(loads).then(() => { shownAt = performance.now(); refresh(); });
  const scale = $("scale");
  scale.replaceChildren(...state.labels.map((label, i) => button(label, String(i + 1), () => choose(i + 1))));
  const reasons = $("reasons");
  reasons.replaceChildren(...state.reasons.map(([reason, key]) => {
    const b = button(reason.replace("_", " "), key, () => { choice.reason = reason; refresh(); });
    b.dataset.reason = reason;
    b.dataset.key = key;
    return b;
  }));
  const keys = state.reasons.map(([r, k]) => `${k} ${r.replace("_", " ")}`).join(", ");
  $("help").textContent = "Keys: 1-5 answer" + (keys ? `; reason: ${keys}` : "") + "; Enter next.";
  $("message").textContent = "";
  refresh();
}

async function load() {
  const reply = await fetch(`${base}/state`, { cache: "no-store" });
  render(await reply.json());
}

async function submit() {
  if ($("next").disabled) return;
  sending = true;
  refresh();
  const body = { item: state.item.id, response: choice.response, reason: choice.reason,
                 seconds: (performance.now() - shownAt) / 1000 };
  try {
    const reply = await fetch(`${base}/answer`, { method: "POST", headers: { "Content-Type": "application/json" },
                                                  body: JSON.stringify(body) });
    const data = await reply.json();
    sending = false;
    if (!reply.ok) { $("message").textContent = data.error || "not stored"; refresh(); return; }
    render(data);
  } catch (error) {
    sending = false;
    $("message").textContent = "not stored: the study server cannot be reached; try again";
    refresh();
  }
}

$("next").addEventListener("click", submit);
document.addEventListener("keydown", (event) => {
  if (!state || !state.item || event.ctrlKey || event.metaKey || event.altKey) return;
  if (/^[1-5]$/.test(event.key)) { choose(Number(event.key)); event.preventDefault(); return; }
  if (event.key === "Enter") { submit(); event.preventDefault(); return; }
  const reason = state.reasons.find(([, key]) => key === event.key.toLowerCase());
  if (reason && needsReason()) { choice.reason = reason[0]; refresh(); event.preventDefault(); }
});
load();
