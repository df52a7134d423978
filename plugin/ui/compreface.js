// CompreFace face boxes on Stash's image page.
//
// Plain DOM, no build step: Stash loads this file as the plugin's `ui.javascript`. Everything the plugin
// does runs server-side through `runPluginOperation` (synchronous, returns the mode's output), so the
// CompreFace API key never reaches the browser. On /images/<id> a "Faces" button asks identifyImage for
// every face (without linking anything), draws the boxes over the displayed image and lists each face
// with Confirm, Create and "Not this person". At /plugin/compreface/review (PluginApi.register.route) a
// review page lists candidates to name, merge or reject, and recent runs to undo.
(function () {
  "use strict";

  const PLUGIN_ID = "compreface";
  const IMAGE_PATH = /^\/images\/(\d+)\/?$/;
  const IMAGE_SELECTOR = ".image-container img";

  // ---------------------------------------------------------------- talking to Stash

  async function graphql(query, variables) {
    const response = await fetch("/graphql", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ query, variables }),
    });
    let body;
    try {
      body = await response.json();
    } catch (e) {
      throw new Error(`Stash answered ${response.status} ${response.statusText}`);
    }
    if (body.errors && body.errors.length) throw new Error(body.errors.map((e) => e.message).join("; "));
    return body.data;
  }

  /** Runs one plugin mode and returns its output; the plugin's error arrives as a GraphQL error. */
  async function runMode(mode, args) {
    const data = await graphql(
      "mutation CompreFaceOperation($args: Map) { runPluginOperation(plugin_id: \"" + PLUGIN_ID + "\", args: $args) }",
      { args: Object.assign({ mode }, args) }
    );
    return data.runPluginOperation;
  }

  /** Gives a performer the plugin just created (named after its subject) the typed name, then keeps the
   * subject as an alias (ADD, never SET; Stash refuses an alias equal to the name, hence this order), so
   * the performer stays linked to its faces. */
  async function renamePerformer(performer, subject, name) {
    await graphql(
      "mutation CompreFaceRename($input: PerformerUpdateInput!) { performerUpdate(input: $input) { id name } }",
      { input: { id: performer.id, name } }
    );
    if (subject) {
      await graphql(
        "mutation CompreFaceAlias($input: BulkPerformerUpdateInput!) { bulkPerformerUpdate(input: $input) { id } }",
        { input: { ids: [performer.id], alias_list: { values: [subject], mode: "ADD" } } }
      );
    }
  }

  // ---------------------------------------------------------------- small DOM helpers

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "onclick") node.addEventListener("click", value);
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  function percent(similarity) {
    return similarity === null || similarity === undefined ? "" : ` ${Math.round(similarity * 100)}%`;
  }

  function faceLabel(face) {
    // A similarity is only worth showing for the person it is the similarity to.
    if (face.performer) return `${face.index + 1}. ${face.performer.name}${percent(face.similarity)}`;
    if (face.subject) return `${face.index + 1}. ${face.subject}${percent(face.similarity)}`;
    return `${face.index + 1}. unknown`;
  }

  /** Where the picture itself sits inside the <img> element (object-fit: contain leaves bars). */
  function contentRect(img) {
    const w = img.clientWidth;
    const h = img.clientHeight;
    const nw = img.naturalWidth || w;
    const nh = img.naturalHeight || h;
    if (getComputedStyle(img).objectFit !== "contain" || !nw || !nh) {
      return { left: img.offsetLeft, top: img.offsetTop, width: w, height: h };
    }
    const scale = Math.min(w / nw, h / nh);
    return {
      left: img.offsetLeft + (w - nw * scale) / 2,
      top: img.offsetTop + (h - nh * scale) / 2,
      width: nw * scale,
      height: nh * scale,
    };
  }

  // ---------------------------------------------------------------- the image page

  // What both views share: one status line, and an action that shows progress, then its result or error.
  class Panel {
    say(text, isError) {
      this.status.textContent = text;
      this.status.classList.toggle("cf-error", Boolean(isError));
    }

    afterAction() {}

    async act(what, work) {
      this.say(`${what}…`);
      this.panel.classList.add("cf-busy");
      try {
        const message = await work();
        await this.afterAction();
        this.say((typeof message === "function" ? message() : message) || `${what}: done`);
        return true;
      } catch (e) {
        this.say(`${what} failed: ${e.message}`, true);
        return false;
      } finally {
        this.panel.classList.remove("cf-busy");
      }
    }
  }

  class FacesView extends Panel {
    constructor(imageId, img) {
      super();
      this.imageId = imageId;
      this.img = img;
      this.faces = [];
      this.frame = null;
      this.status = el("span", { class: "cf-status", role: "status" });
      this.list = el("ol", { class: "cf-face-list" });
      this.button = el("button", { class: "btn btn-secondary cf-faces-button", type: "button",
                                   text: "Faces", onclick: () => this.identify() });
      this.panel = el("div", { class: "cf-panel" }, this.button, this.status, this.list);
      this.overlay = el("div", { class: "cf-overlay" });
      const host = img.parentElement;
      host.classList.add("cf-host");
      host.append(this.overlay);
      // Under the image's toolbar in the details column (Stash's Image.tsx), else above the image.
      const toolbar = document.querySelector(".image-tabs .image-toolbar");
      if (toolbar) toolbar.after(this.panel);
      else host.parentElement.insertBefore(this.panel, host);
      this.onResize = () => this.place();
      window.addEventListener("resize", this.onResize);
    }

    destroy() {
      window.removeEventListener("resize", this.onResize);
      this.panel.remove();
      this.overlay.remove();
    }

    identify() {
      return this.act("Finding faces", async () => {
        const output = await runMode("identifyImage", { imageId: this.imageId, associateExisting: "false" });
        this.faces = (output && output.faces) || [];
        // Boxes are in the pixels the plugin analysed: `frame` when it says so, else the image's own.
        this.frame = output && output.frame;
        this.render();
        return this.faces.length === 1 ? "1 face" : `${this.faces.length} faces`;
      });
    }

    render() {
      this.list.replaceChildren(...this.faces.map((face) => this.row(face)));
      this.overlay.replaceChildren(...this.faces.map((face) => el("div", {
        class: `cf-box ${face.performer ? "cf-known" : "cf-unknown"}`, "data-index": String(face.index),
      }, el("span", { class: "cf-label", text: faceLabel(face) }))));
      if (this.img.complete) this.place();
      else this.img.addEventListener("load", () => this.place(), { once: true });
    }

    /** Positions the overlay on the displayed picture and each box in percent of the analysed frame. */
    place() {
      const rect = contentRect(this.img);
      Object.assign(this.overlay.style, { left: `${rect.left}px`, top: `${rect.top}px`,
                                          width: `${rect.width}px`, height: `${rect.height}px` });
      const fw = (this.frame && this.frame.width) || this.img.naturalWidth;
      const fh = (this.frame && this.frame.height) || this.img.naturalHeight;
      for (const box of this.overlay.children) {
        const b = this.faces.find((f) => String(f.index) === box.dataset.index).box;
        Object.assign(box.style, {
          left: `${(100 * b.x_min) / fw}%`, top: `${(100 * b.y_min) / fh}%`,
          width: `${(100 * (b.x_max - b.x_min)) / fw}%`, height: `${(100 * (b.y_max - b.y_min)) / fh}%`,
        });
      }
    }

    row(face) {
      const name = el("input", { class: "form-control cf-name", type: "text", placeholder: "Name",
                                 "aria-label": `Name for face ${face.index + 1}` });
      const buttons = [];
      if (face.rejected) {
        buttons.push(el("span", { class: "cf-rejected", text: `not ${face.rejected}` }));
      } else if (face.performer) {
        if (face.linked) buttons.push(el("span", { class: "cf-linked", text: "linked" }));
        else buttons.push(el("button", { class: "btn btn-primary cf-confirm", type: "button", text: "Confirm",
                                         onclick: () => this.confirm(face) }));
        buttons.push(el("button", { class: "btn btn-danger cf-reject", type: "button", text: "Not this person",
                                    onclick: () => this.reject(face) }));
      } else {
        buttons.push(name);
        buttons.push(el("button", { class: "btn btn-success cf-create", type: "button", text: "Create",
                                    onclick: () => this.create(face, name.value.trim()) }));
      }
      return el("li", { class: "cf-face", "data-index": String(face.index) },
                el("span", { class: "cf-face-label", text: faceLabel(face) + (face.linked || face.rejected ? ""
                                                                               : ` (${face.status})`) }),
                ...buttons);
    }

    async confirm(face) {
      const done = await this.act(`Linking ${face.performer.name}`, async () => {
        const output = await runMode("createPerformerFromImage",
                                     { imageId: this.imageId, faceIndex: String(face.index) });
        return output.message;
      });
      if (done) {
        face.linked = true;
        this.render();
      }
    }

    async reject(face) {
      const performer = face.performer;
      const done = await this.act(`Not ${performer.name}`, async () => {
        await runMode("rejectMatch", { imageId: this.imageId, performerId: performer.id });
        return `${performer.name} removed from this image and will not be linked to it again`;
      });
      if (done) {
        // No Create here: for this face the plugin would find the refused subject again; identify anew.
        face.rejected = performer.name;
        face.performer = null;
        face.subject = null;
        face.similarity = null;
        this.render();
      }
    }

    async create(face, name) {
      if (!name) {
        this.say("Type a name first", true);
        return;
      }
      const done = await this.act(`Creating ${name}`, async () => {
        if (face.subject) {
          const output = await runMode("nameCandidate", { subject: face.subject, name });
          face.performer = output.performer;
          face.similarity = null;
          face.linked = true;
          return `${name} created from ${face.subject} and linked where it was seen`;
        }
        const output = await runMode("createPerformerFromImage",
                                     { imageId: this.imageId, faceIndex: String(face.index) });
        const made = (output.faces || []).find((f) => f.index === face.index) || {};
        if (!made.performer) throw new Error(output.message || "no performer was created");
        if (made.status === "performer created" && made.performer.name !== name) {
          await renamePerformer(made.performer, made.subject, name);
          made.performer = { id: made.performer.id, name };
        }
        face.performer = made.performer;
        face.subject = made.subject;
        face.similarity = made.status === "matched" ? made.similarity : null;
        face.linked = true;
        return `${face.performer.name} linked to face ${face.index + 1}`;
      });
      if (done) this.render();
    }
  }

  // ---------------------------------------------------------------- the review page

  const REVIEW_PATH = "/plugin/compreface/review";

  function when(seconds) {
    return new Date(seconds * 1000).toLocaleString();
  }

  /** Candidates to name, merge or reject, and recent runs to undo; everything reloads after each action. */
  class ReviewView extends Panel {
    constructor(root) {
      super();
      this.root = root;
      this.status = el("p", { class: "cf-status", role: "status" });
      this.candidates = el("ul", { class: "cf-candidates" });
      this.runs = el("ul", { class: "cf-runs" });
      this.panel = el("div", { class: "cf-review" },
                      el("h2", { text: "Faces to review" }), this.status,
                      el("h3", { text: "Candidates" }), this.candidates,
                      el("h3", { text: "Recent runs" }), this.runs);
      root.replaceChildren(this.panel);
      this.load();
    }

    afterAction() {
      return this.refresh();  // every action changes what the page lists
    }

    load() {
      return this.act("Loading", async () => () => {
        const n = this.data.candidates.length;
        return `${n} candidate${n === 1 ? "" : "s"}`;
      });
    }

    async refresh() {
      this.data = await runMode("reviewData", {});
      this.candidates.replaceChildren(...this.data.candidates.map((c) => this.candidateRow(c)));
      if (!this.data.candidates.length) this.candidates.append(el("li", { text: "No candidates" }));
      this.runs.replaceChildren(...this.data.runs.map((r) => this.runRow(r)));
    }

    candidateRow(c) {
      const name = el("input", { class: "form-control cf-name", type: "text", placeholder: "Name",
                                 "aria-label": `Name for ${c.subject}` });
      const performer = el("input", { class: "form-control cf-performer-id", type: "text",
                                      placeholder: "Performer id", "aria-label": `Performer for ${c.subject}` });
      const crop = c.crop ? el("img", { class: "cf-crop", alt: c.subject, src: `data:image/jpeg;base64,${c.crop}` })
                          : el("span", { class: "cf-crop cf-no-crop", text: "?" });
      const seen = `seen in ${c.seen} item${c.seen === 1 ? "" : "s"}: ${c.items.join(", ")}`;
      return el("li", { class: "cf-candidate", "data-subject": c.subject }, crop,
        el("div", { class: "cf-candidate-info" }, el("strong", { text: c.subject }),
           el("span", { class: "cf-seen", text: seen })),
        name,
        el("button", { class: "btn btn-success cf-name-button", type: "button", text: "Name",
                       onclick: () => this.name(c.subject, name.value.trim()) }),
        performer,
        el("button", { class: "btn btn-secondary cf-merge", type: "button", text: "Merge",
                       onclick: () => this.merge(c.subject, performer.value.trim()) }),
        el("button", { class: "btn btn-danger cf-reject-candidate", type: "button", text: "Reject",
                       onclick: () => this.reject(c.subject) }));
    }

    runRow(r) {
      const text = `#${r.runId} ${r.mode}, ${when(r.started_at)}, ${r.writes} write${r.writes === 1 ? "" : "s"}`;
      return el("li", { class: "cf-run", "data-run": String(r.runId) }, el("span", { text }),
        r.undone ? el("span", { class: "cf-undone", text: "undone" })
                 : el("button", { class: "btn btn-warning cf-undo", type: "button", text: "Undo",
                                  onclick: () => this.undo(r.runId) }));
    }

    name(subject, name) {
      if (!name) return this.say("Type a name first", true);
      return this.act(`Naming ${subject}`, async () => {
        const out = await runMode("nameCandidate", { subject, name });
        return `${out.performer.name} created from ${subject}: ${out.linkedImages} images, ${out.linkedScenes} scenes linked`;
      });
    }

    merge(subject, performerId) {
      if (!performerId) return this.say("Type a performer id first", true);
      return this.act(`Merging ${subject}`, async () => {
        const out = await runMode("mergeIntoPerformer", { subject, performerId });
        return `${subject} merged into ${out.performer.name}`;
      });
    }

    reject(subject) {
      return this.act(`Rejecting ${subject}`, async () => {
        await runMode("rejectCandidate", { subject });
        return `${subject} rejected: it never becomes a performer`;
      });
    }

    undo(runId) {
      return this.act(`Undoing run ${runId}`, async () => {
        await runMode("undoRun", { runId: String(runId) });
        return `Run ${runId} undone`;
      });
    }
  }

  /** Stash's routes take a React component: it renders one <div> and fills it with plain DOM. */
  function ReviewPage() {
    const React = window.PluginApi.React;
    const ref = React.useRef(null);
    React.useEffect(() => {
      if (ref.current) new ReviewView(ref.current);
    }, []);
    return React.createElement("div", { ref, className: "cf-review-root" });
  }

  // ---------------------------------------------------------------- mounting on navigation

  let view = null;
  let pending = null;

  function mount(pathname) {
    const match = IMAGE_PATH.exec(pathname);
    if (view && (!match || view.imageId !== match[1] || !view.img.isConnected)) {
      view.destroy();
      view = null;
    }
    clearInterval(pending);
    if (!match || view) return;
    // Stash renders the page after the location event: wait for the image element, at most 10 s.
    let tries = 0;
    pending = setInterval(() => {
      const img = document.querySelector(IMAGE_SELECTOR);
      if (img || ++tries > 100) clearInterval(pending);
      if (img && IMAGE_PATH.test(window.location.pathname)) view = new FacesView(match[1], img);
    }, 100);
  }

  const api = window.PluginApi;
  if (api && api.React && api.register && api.register.route) api.register.route(REVIEW_PATH, ReviewPage);
  if (api && api.Event && api.Event.addEventListener) {
    api.Event.addEventListener("stash:location", (e) => mount(e.detail.data.location.pathname));
  }
  mount(window.location.pathname);
})();
