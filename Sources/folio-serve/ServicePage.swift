/// `GET /`: type or paste a text, see the labels with probability bars and the model's
/// facts. One page, no assets from elsewhere; it calls the service's own JSON routes.
/// `/?text=...` opens with that text classified (a link to share, and what the browser test loads).
enum ServicePage {
    static let html = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Folio</title>
    <style>
      :root { --ink: #1d2430; --muted: #5b6473; --line: #d9dde4; --bar: #2f6fd0; --back: #f6f7f9; }
      * { box-sizing: border-box; }
      body { margin: 0; font: 16px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: var(--back); }
      main { max-width: 46rem; margin: 0 auto; padding: 1.25rem 1rem 3rem; }
      h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
      p.lead { margin: 0 0 1rem; color: var(--muted); }
      textarea { width: 100%; min-height: 9rem; padding: .75rem; font: inherit; border: 1px solid var(--line); border-radius: .5rem; resize: vertical; background: #fff; }
      .row { display: flex; gap: .75rem; align-items: center; margin: .6rem 0 1.2rem; flex-wrap: wrap; }
      button { font: inherit; padding: .55rem 1.2rem; border: 0; border-radius: .5rem; background: var(--bar); color: #fff; cursor: pointer; }
      button:disabled { opacity: .6; cursor: default; }
      label.k { color: var(--muted); }
      select { font: inherit; padding: .3rem; }
      section { background: #fff; border: 1px solid var(--line); border-radius: .5rem; padding: .9rem 1rem; margin-bottom: 1rem; }
      h2 { font-size: 1rem; margin: 0 0 .6rem; }
      .result { display: grid; grid-template-columns: minmax(5rem, 9rem) 1fr 3.6rem; gap: .5rem; align-items: center; margin: .3rem 0; }
      .track { background: #e8ebf0; border-radius: .3rem; height: .9rem; overflow: hidden; }
      .fill { background: var(--bar); height: 100%; }
      .name { overflow-wrap: anywhere; font-weight: 600; }
      .value { text-align: right; font-variant-numeric: tabular-nums; }
      .note, .error { color: var(--muted); font-size: .9rem; margin-top: .5rem; }
      .error { color: #b3261e; }
      dl { display: grid; grid-template-columns: auto 1fr; gap: .2rem .8rem; margin: 0; font-size: .92rem; }
      dt { color: var(--muted); }
      dd { margin: 0; overflow-wrap: anywhere; }
    </style>
    </head>
    <body>
    <main>
      <h1>Folio</h1>
      <p class="lead">Paste an article; the model served here labels it.</p>
      <textarea id="text" placeholder="Text to classify" aria-label="Text to classify"></textarea>
      <div class="row">
        <button id="submit" type="button">Classify</button>
        <label class="k" for="topk">labels shown</label>
        <select id="topk"><option>3</option><option selected>5</option><option>10</option></select>
      </div>
      <section id="results" hidden aria-live="polite"><h2>Labels</h2><div id="bars"></div><div id="note" class="note"></div></section>
      <div id="error" class="error" role="alert"></div>
      <section><h2>Model</h2><dl id="facts"><dt>loading</dt><dd></dd></dl></section>
    </main>
    <script>
    const $ = (id) => document.getElementById(id);
    function row(label, probability) {
      const line = document.createElement("div");
      line.className = "result";
      line.dataset.label = label;
      line.dataset.probability = probability;
      const name = document.createElement("div"); name.className = "name"; name.textContent = label;
      const track = document.createElement("div"); track.className = "track";
      const fill = document.createElement("div"); fill.className = "fill"; fill.style.width = (probability * 100).toFixed(1) + "%";
      track.appendChild(fill);
      const value = document.createElement("div"); value.className = "value"; value.textContent = (probability * 100).toFixed(1) + "%";
      line.append(name, track, value);
      return line;
    }
    async function classify() {
      $("error").textContent = "";
      $("submit").disabled = true;
      try {
        const answer = await fetch("/v1/predict", { method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ texts: [$("text").value], top_k: Number($("topk").value) }) });
        const body = await answer.json();
        if (!answer.ok) throw new Error(body.error ? body.error.message + (body.error.field ? " (" + body.error.field + ")" : "") : answer.statusText);
        const prediction = body.predictions[0];
        $("bars").replaceChildren(...prediction.top.map((c) => row(c.label, c.probability)));
        $("note").textContent = prediction.tokens + " words read, " + prediction.unknown_tokens + " unknown to the model"
          + (prediction.tokens === 0 ? ": with no words, these are the model's priors" : "");
        $("results").hidden = false;
        document.body.dataset.state = "done";
      } catch (error) {
        $("error").textContent = String(error.message || error);
      } finally {
        $("submit").disabled = false;
      }
    }
    $("submit").addEventListener("click", classify);
    $("text").addEventListener("keydown", (event) => { if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) classify(); });
    // A link can carry its text (/?text=...): it is classified as the page opens.
    const shared = new URLSearchParams(location.search).get("text");
    if (shared !== null) { $("text").value = shared; classify(); }
    fetch("/v1/model").then((answer) => answer.json()).then((facts) => {
      const entries = [["pipeline", facts.pipeline || "(not recorded)"], ["labels", facts.labels.join(", ")],
        ["vocabulary", facts.vocabulary_size.toLocaleString()], ["parameters", facts.parameters.toLocaleString()],
        ["layers", facts.layers.join(" → ")], ["max length", facts.max_length + " tokens"]];
      $("facts").replaceChildren(...entries.flatMap(([key, value]) => {
        const term = document.createElement("dt"); term.textContent = key;
        const detail = document.createElement("dd"); detail.textContent = value;
        return [term, detail];
      }));
    }).catch(() => { $("facts").textContent = "model facts unavailable"; });
    </script>
    </body>
    </html>
    """#
}
