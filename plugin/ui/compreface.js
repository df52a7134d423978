// CompreFace faces on Stash's image and scene pages, and a review page.
//
// Plain DOM, no build step: Stash loads this file as the plugin's `ui.javascript`. Everything the plugin
// does runs server-side through `runPluginOperation` (synchronous, returns the mode's output), so the
// CompreFace API key never reaches the browser; the browser itself only searches performers by name.
// On /images/<id> a "Faces" button asks identifyImage for every face (without linking anything), draws
// the boxes over the displayed image and lists each face with Confirm, "Not this person", another
// performer, or Create with a typed name. On /scenes/<id> the same button asks identifyScene for everyone
// seen in the scene (frames, best similarity, a face; clicking a time seeks the video), with the same
// actions. At /plugin/compreface/review (PluginApi.register.route, linked from the navbar) a review page
// lists candidates to name, merge or reject, and recent runs to undo.
(function () {
  "use strict";

  const IMAGE_PATH = /^\/images\/(\d+)\/?$/;
  // Stash shows an image stored as a video file with <video> (Image.tsx): the control goes on either.
  const IMAGE_SELECTOR = ".image-container img, .image-container video";
  const SCENE_PATH = /^\/scenes\/(\d+)\/?$/;
  const SCENE_TOOLBAR = ".scene-tabs .scene-toolbar";  // Stash's Scene.tsx: the details column's toolbar

  // ---------------------------------------------------------------- talking to Stash

  // Stash behind a reverse proxy with a path prefix rewrites its <base href> (and its router's basename,
  // ui/v2.5/src/core/createClient.ts): every URL the page builds, and every route it matches, goes through it.
  const BASE = ((document.querySelector("base") && document.querySelector("base").getAttribute("href")) || "/")
    .replace(/\/?$/, "/");

  /** The route of the current page, as Stash's router sees it (without the base prefix). */
  function routePath() {
    const path = window.location.pathname;
    return path.startsWith(BASE) ? `/${path.slice(BASE.length)}` : path;
  }

  // The only GraphQL documents the page sends, one per line (tests validate them against every Stash schema).
  const OPERATION = 'mutation CompreFaceOperation($args: Map) { runPluginOperation(plugin_id: "compreface", args: $args) }';
  const PERFORMERS = 'query CompreFacePerformers($filter: FindFilterType, $performer_filter: PerformerFilterType) { findPerformers(filter: $filter, performer_filter: $performer_filter) { performers { id name } } }';

  async function graphql(query, variables) {
    const response = await fetch(`${BASE}graphql`, {
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

  /** Stash's own panels (an item's performers and tags) read its Apollo cache, which the plugin's writes
   * bypass: after each action the queries on screen are fetched again, so they show the truth at once. */
  async function refreshStash(options) {
    const api = window.PluginApi;
    const service = api && api.utils && api.utils.StashService;
    const client = service && service.getClient && service.getClient();
    if (!client || !client.refetchQueries) return;
    try {
      // From the review page no item is on screen: what Stash holds of items and performers is forgotten, so
      // the pages the user goes to next are read again instead of shown from the cache.
      if (options && options.evict && client.cache && client.cache.evict) {
        for (const fieldName of ["findImage", "findImages", "findScene", "findScenes", "findPerformer",
                                 "findPerformers", "findGallery", "findGalleries"]) {
          client.cache.evict({ id: "ROOT_QUERY", fieldName });
        }
        client.cache.gc();
      }
      await client.refetchQueries({ include: "active" });
    } catch (e) {
      console.warn("CompreFace: Stash's panels could not be refreshed", e);
    }
  }

  /** Runs one plugin mode and returns its output; the plugin's error arrives as a GraphQL error. */
  async function runMode(mode, args) {
    const data = await graphql(OPERATION, { args: Object.assign({ mode }, args) });
    return data.runPluginOperation;
  }

  /** Performers whose name contains `text`, for "pick another performer" (a read of the user's own Stash). */
  async function findPerformers(text) {
    const data = await graphql(PERFORMERS, {
      filter: { per_page: 8 }, performer_filter: { name: { value: text, modifier: "INCLUDES" } },
    });
    return data.findPerformers.performers;
  }

  // What the face and scene views share. `item` is { imageId } or { sceneId }; `person` is a face of
  // identifyImage or a person of identifyScene (performer, subject, status); `faceIndex` only for a face.

  /** One click on a face, one operation: assignFace ("this is <performer>"), nameFace ("someone new
   * called <name>") or notThisFace; the server does every step of it in one run and answers the item's
   * faces (or people) as they now stand, which the page redraws. */
  function faceAction(mode, item, faceIndex, args) {
    return runMode(mode, Object.assign({ faceIndex: String(faceIndex) }, item, args || {}));
  }

  // ---------------------------------------------------------------- Stash's own components from plain DOM

  // Stash's components and hooks (PerformerSelect, LoadingIndicator, useToast) need its React context (Apollo,
  // intl, configuration). The navbar entry (navEntry), always mounted inside that context, hosts them: it
  // keeps the toast API here and renders each registered node's component there through a React portal.
  const bridge = { toast: null, repaint: null, portals: new Map() };

  /** Renders `render()` (a React element) into `node` through the navbar's portal host; false without one. */
  function portal(node, render) {
    if (!bridge.repaint) return false;
    bridge.portals.set(node, render);
    bridge.repaint();
    return true;
  }

  /** Forgets the portals of nodes no longer on the page (rows redrawn, page left). */
  function prunePortals() {
    let gone = false;
    for (const node of bridge.portals.keys()) {
      if (!node.isConnected) gone = bridge.portals.delete(node);
    }
    if (gone && bridge.repaint) bridge.repaint();
  }

  function PortalHost() {
    const R = api.React;
    const [, setTick] = R.useState(0);
    R.useEffect(() => {
      bridge.repaint = () => setTick((t) => t + 1);
      const components = api.loadableComponents || {};
      const wanted = ["PerformerSelect"].filter((name) => components[name]).map((name) => components[name]);
      Promise.resolve(api.utils && api.utils.loadComponents ? api.utils.loadComponents(wanted) : null)
        .then(() => bridge.repaint && bridge.repaint(), () => {});
      return () => { bridge.repaint = null; };
    }, []);
    bridge.toast = api.hooks && api.hooks.useToast ? api.hooks.useToast() : null;
    const live = [...bridge.portals].filter(([node]) => node.isConnected);
    return R.createElement(R.Fragment, null,
      ...live.map(([node, render], i) => api.ReactDOM.createPortal(render(), node, `cf-portal-${i}`)));
  }

  /** Stash's toast for a finished action (its alerts stay in the panel's status line too). */
  function toast(message, isError) {
    if (!bridge.toast || !message) return;
    if (isError) bridge.toast.error(new Error(message));
    else bridge.toast.success(message);
  }

  /** A link that navigates inside Stash's app (React Router's history), as Stash's own links do. */
  function appLink(attrs, ...children) {
    const link = el("a", attrs, ...children);
    link.addEventListener("click", (e) => {
      if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;  // new tab: the browser's
      e.preventDefault();
      window.history.pushState({}, "", link.href);
      window.dispatchEvent(new PopStateEvent("popstate", { state: {} }));
    });
    return link;
  }

  /** The way to the plugin's settings (where an error's named setting is fixed), inside the app. */
  function settingsLink(text) {
    return appLink({ class: "alert-link cf-settings-link", href: `${BASE}settings?tab=plugins`, text });
  }

  /** Stash's alert for a failed operation (hidden until one fails); Panel.act fills it. */
  function failureAlert() {
    const alert = el("div", { class: "alert alert-danger cf-alert", role: "alert" });
    alert.hidden = true;
    return alert;
  }

  // ---------------------------------------------------------------- small DOM helpers

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
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
    const n = face.number || face.index + 1;
    if (face.performer) return `${n}. ${face.performer.name}${percent(face.similarity)}`;
    if (face.subject) return `${n}. ${face.subject}${percent(face.similarity)}`;
    return `${n}. unknown`;
  }

  /** What a face is to the user: linked, suggested (a performer not yet confirmed), rejected, unknown. */
  function faceState(face) {
    if (face.performer) return face.linked ? "linked" : "suggested";
    return face.rejected ? "rejected" : "unknown";
  }

  /** Faces in reading order (lines top to bottom, each left to right), each given its `number` (1, 2, …):
   * a face starts a new line when its centre is below the current line's first face. */
  function readingOrder(faces) {
    const withBox = faces.filter((f) => f.box);
    const centre = (f) => (f.box.y_min + f.box.y_max) / 2;
    const byTop = withBox.slice().sort((a, b) => a.box.y_min - b.box.y_min);
    const lines = [];
    for (const face of byTop) {
      const line = lines[lines.length - 1];
      if (line && centre(face) <= line[0].box.y_max) line.push(face);
      else lines.push([face]);
    }
    const ordered = lines.flatMap((line) => line.sort((a, b) => a.box.x_min - b.box.x_min))
      .concat(faces.filter((f) => !f.box));
    return ordered.map((face, i) => Object.assign({}, face, { number: i + 1 }));
  }

  /** The displayed size of an <img> or <video> picture. */
  function naturalSize(media) {
    return media.tagName === "VIDEO" ? [media.videoWidth, media.videoHeight] : [media.naturalWidth, media.naturalHeight];
  }

  function mediaReady(media) {
    return media.tagName === "VIDEO" ? media.readyState >= 1 : media.complete;
  }

  /** Where the picture itself sits inside the <img> element (object-fit: contain leaves bars). */
  function contentRect(img) {
    const w = img.clientWidth;
    const h = img.clientHeight;
    const nw = naturalSize(img)[0] || w;
    const nh = naturalSize(img)[1] || h;
    if ((img.tagName !== "VIDEO" && getComputedStyle(img).objectFit !== "contain") || !nw || !nh) {
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

  const THUMB = 48;  // CSS pixels of a face thumbnail

  /** The square of the picture a face's thumbnail shows, in the media's own pixels: the box (given in the
   * `frame` the plugin analysed) with a margin, clamped to the picture. */
  function thumbSource(media, box, frame) {
    const [nw, nh] = naturalSize(media);
    const sx = nw / ((frame && frame.width) || nw);
    const sy = nh / ((frame && frame.height) || nh);
    const side = Math.min(nw, nh, 1.3 * Math.max((box.x_max - box.x_min) * sx, (box.y_max - box.y_min) * sy));
    const cx = ((box.x_min + box.x_max) / 2) * sx;
    const cy = ((box.y_min + box.y_max) / 2) * sy;
    return { x: Math.max(0, Math.min(nw - side, cx - side / 2)), y: Math.max(0, Math.min(nh - side, cy - side / 2)),
             side };
  }

  /** A face's thumbnail, cut in the browser from the picture already on screen (<img> or <video>): a canvas
   * drawn from the media, so the operation's answer carries no image bytes. Drawn again once the media has
   * its pixels, if it has not yet. */
  function faceThumb(media, face, frame) {
    if (!face.box) return el("span", { class: "cf-thumb cf-no-crop", "aria-hidden": "true", text: "?" });
    const ratio = window.devicePixelRatio || 1;
    const canvas = el("canvas", { class: "cf-thumb", width: String(Math.round(THUMB * ratio)),
                                  height: String(Math.round(THUMB * ratio)), role: "img",
                                  "aria-label": `Face ${face.number}` });
    const draw = () => {
      const [nw, nh] = naturalSize(media);
      if (!nw || !nh) return false;
      const src = thumbSource(media, face.box, frame);
      canvas.dataset.crop = [src.x, src.y, src.side, src.side].map((v) => Math.round(v)).join(",");
      try {
        canvas.getContext("2d").drawImage(media, src.x, src.y, src.side, src.side, 0, 0, canvas.width, canvas.height);
      } catch (e) {
        return false;  // the media is not decodable (yet): the empty square stays
      }
      return true;
    };
    const ready = media.tagName === "VIDEO" ? media.readyState >= 2 : media.complete && media.naturalWidth > 0;
    if (!(ready && draw())) {
      media.addEventListener(media.tagName === "VIDEO" ? "loadeddata" : "load", draw, { once: true });
    }
    return canvas;
  }

  /** "Pick another performer": Stash's own PerformerSelect where it can be hosted (Stash >= 0.27), else a
   * search box whose matches appear as buttons as the user types. */
  function performerPicker(label, onPick) {
    const Select = api && api.components && api.components.PerformerSelect;
    if (Select && bridge.repaint) {
      const host = el("span", { class: "cf-picker cf-performer-select", "aria-label": label });
      portal(host, () => api.React.createElement(Select, {
        values: [], isMulti: false, creatable: false, menuPortalTarget: document.body,
        noSelectionString: "Another performer…", onSelect: (items) => items && items[0] && onPick(items[0]),
      }));
      return host;
    }
    return searchPicker(label, onPick);
  }

  function searchPicker(label, onPick) {
    const options = el("span", { class: "cf-pick-options" });
    let timer = null;
    let asked = "";
    const input = el("input", {
      class: "form-control text-input cf-pick", type: "search", placeholder: "Another performer…", "aria-label": label,
      oninput: () => {
        clearTimeout(timer);
        timer = setTimeout(async () => {
          const text = input.value.trim();
          asked = text;
          if (!text) return options.replaceChildren();
          let found;
          try {
            found = await findPerformers(text);
          } catch (e) {
            return options.replaceChildren(el("span", { class: "cf-error", text: e.message }));
          }
          if (asked !== text) return;  // the user typed on meanwhile
          options.replaceChildren(...(found.length ? found.map((p) => el("button", {
            class: "btn btn-outline-info btn-sm cf-pick-option", type: "button", "data-id": p.id, text: p.name,
            onclick: () => onPick(p),
          })) : [el("span", { class: "cf-none", text: "no performer of that name" })]));
        }, 250);
      },
    });
    return el("span", { class: "cf-picker" }, input, options);
  }

  /** "Look again": a fresh look where Faces showed the kept one (hidden until Faces answered). */
  function lookAgainButton(onclick) {
    const button = el("button", { class: "btn btn-secondary cf-look-again", type: "button", text: "Look again",
                                  onclick });
    button.hidden = true;
    return button;
  }

  /** ", as looked at <when>" for an answer from the kept look. */
  function lookedAt(output) {
    return output && output.cached ? `, as looked at ${when(output.lookedAt)}` : "";
  }

  // ---------------------------------------------------------------- the image page

  const RECENT_ACTIONS = 5;  // lines of the recent-actions strip

  // What both views share: one status line, and an action that shows progress, then its result or error.
  class Panel {
    say(text, isError) {
      this.status.textContent = text;
      this.status.classList.toggle("cf-error", Boolean(isError));
    }

    afterAction() {}

    /** The recent-actions strip of the image and scene pages: each face action, newest first, with its Undo. */
    recentStrip() {
      this.recent = el("ul", { class: "cf-recent", "aria-label": "Recent actions" });
      this.recent.hidden = true;
      return this.recent;
    }

    /** One face action (assignFace, nameFace, notThisFace): one run, every row redrawn from its answer
     * (`show`), and a line in the recent actions with its Undo. `refused`: notThisFace's performer. */
    faceAct(what, mode, index, args, refused) {
      return this.act(what, async () => {
        const output = await faceAction(mode, this.item, index, args);
        this.show(output);
        const text = output.message || `${what}: done`;
        this.remember(text, this.undoOf(mode, index, output, refused), mode === "notThisFace");
        return text;
      });
    }

    /** How an action is undone, or null when it wrote nothing. A journalled run (assignFace, nameFace) is
     * reverted by undoRun, then the kept look redrawn (the item's links read again, and a performer the undo
     * deleted no longer suggested); "Not this person" records
     * a refusal, no run: undoing it says the face IS them after all (assignFace: the refusal is forgotten,
     * they are linked again and the face learned). */
    undoOf(mode, index, output, refused) {
      if (mode === "notThisFace") {
        return refused ? async () => this.show(await faceAction("assignFace", this.item, index,
                                                                { performerId: refused.id })) : null;
      }
      if (!output.runId) return null;
      return async () => {
        await runMode("undoRun", { runId: String(output.runId) });
        // The kept look, redrawn: a performer the undo deleted (Create's) is no longer suggested in it.
        this.show(await this.keptLook(false));
      };
    }

    /** A line "<what was done> — Undo"; once undone, the line says so. `faceBound`: its Undo names the face
     * by its index in this look, so a fresh look (new indices) drops it. */
    remember(text, undo, faceBound) {
      const line = el("li", { class: "cf-recent-action" }, el("span", { class: "cf-recent-text", text }));
      if (faceBound) line.dataset.faceBound = "1";
      if (undo) {
        const button = el("button", {
          class: "btn btn-warning btn-sm cf-undo", type: "button", text: "Undo", "aria-label": `Undo: ${text}`,
          onclick: async () => {
            const done = await this.act("Undoing", async () => {
              await undo();
              return `Undone: ${text}`;
            });
            if (done) button.replaceWith(el("span", { class: "cf-undone", text: "undone" }));
          },
        });
        line.append(" — ", button);
      }
      this.recent.prepend(line);
      while (this.recent.children.length > RECENT_ACTIONS) this.recent.lastElementChild.remove();
      this.recent.hidden = false;
    }

    /** After a fresh look the faces have new indices: the Undo lines that name a face by index go. */
    forgetFaceBound() {
      for (const line of this.recent.querySelectorAll("[data-face-bound]")) line.remove();
      this.recent.hidden = !this.recent.children.length;
    }

    /** "Not this person" for one item (`where` names it in the status line); true when done. */
    notIn(item, performer, where) {
      return this.act(`Not ${performer.name}`, async () => {
        await runMode("rejectMatch", Object.assign({ performerId: performer.id }, item));
        return `${performer.name} removed from ${where} and will not be linked to it again`;
      });
    }

    /** Every control of the panel disabled while an action runs (busy means disabled: no second call). */
    setBusy(busy) {
      this.busy = busy;
      this.panel.classList.toggle("cf-busy", busy);
      this.panel.setAttribute("aria-busy", String(busy));
      for (const control of this.panel.querySelectorAll("button, input")) {
        if (busy) {
          if (!control.disabled) control.dataset.cfBusy = "1";
          control.disabled = true;
        } else if (control.dataset.cfBusy) {
          delete control.dataset.cfBusy;
          control.disabled = false;
        }
      }
      if (!this.spinner) this.spinner = el("span", { class: "cf-spinner" });
      if (busy) {
        this.status.before(this.spinner);
        const Loading = api && api.components && api.components.LoadingIndicator;
        if (!(Loading && portal(this.spinner, () => api.React.createElement(Loading, { small: true, inline: true,
                                                                                        message: "" })))) {
          this.spinner.replaceChildren(el("span", { class: "spinner-border spinner-border-sm", role: "presentation" }));
        }
      } else {
        this.spinner.remove();
        prunePortals();
      }
    }

    /** Runs an action: disabled meanwhile (a click or Enter during it does nothing), then its message or
     * error in the status line and a toast; Stash's panels are refreshed after a write (`look` is a read). */
    async act(what, work, look) {
      if (this.busy) return false;
      this.say(`${what}…`);
      const focused = document.activeElement;
      this.setBusy(true);
      try {
        const message = await work();
        await this.afterAction();
        if (!look) await refreshStash();
        const text = (typeof message === "function" ? message() : message) || `${what}: done`;
        this.say(text);
        if (!look) toast(text);
        if (this.alert) this.alert.hidden = true;
        return true;
      } catch (e) {
        this.say(`${what} failed: ${e.message}`, true);
        toast(`${what} failed: ${e.message}`, true);
        this.failed(`${what} failed: ${e.message}`, () => this.act(what, work, look));
        return false;
      } finally {
        this.setBusy(false);
        this.restoreFocus(focused);
      }
    }

    /** A failed operation in the panel's alert (Stash's style): why, Retry (the same operation again) and
     * the way to the plugin's settings, which the error names when a service is down or misconfigured. */
    failed(message, retry) {
      if (!this.alert) return;
      this.alert.hidden = false;
      this.alert.replaceChildren(el("span", { class: "cf-alert-text", text: `${message}. ` }),
        el("button", { class: "btn btn-sm btn-light cf-retry", type: "button", text: "Retry", onclick: retry }), " ",
        settingsLink("Plugin settings"));
    }

    /** Focus stays where it was, or on the row of the same face when the rows were redrawn. */
    restoreFocus(focused) {
      if (!focused || focused === document.body) return;
      if (focused.classList && focused.classList.contains("cf-retry") && this.alert) {
        // Retry: on the new Retry if it failed again, else back on the panel's button.
        const next = this.alert.hidden ? this.button : this.alert.querySelector(".cf-retry");
        return next && next.focus();
      }
      if (focused.isConnected) return focused.focus();
      const row = focused.closest && focused.closest("[data-index]");
      const again = row && this.panel.querySelector(`li[data-index="${row.dataset.index}"]`);
      if (again) again.focus();
    }
  }

  /** ↑/↓ move between the rows, Y confirms and N rejects the row's face (not while typing in a field). */
  function rowKeys(list, view) {
    list.addEventListener("keydown", (e) => {
      const row = e.target.closest("li[data-index]");
      if (!row || e.altKey || e.ctrlKey || e.metaKey) return;
      const typing = e.target.tagName === "INPUT";
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        const rows = [...list.querySelectorAll(":scope > li[data-index]")];
        const next = rows[rows.indexOf(row) + (e.key === "ArrowDown" ? 1 : -1)];
        if (next) next.focus();
        e.preventDefault();
      } else if (!typing && (e.key === "y" || e.key === "Y")) {
        const confirm = row.querySelector(".cf-confirm");
        if (confirm && !confirm.disabled) confirm.click();
      } else if (!typing && (e.key === "n" || e.key === "N")) {
        const reject = row.querySelector(".cf-reject");
        if (reject && !reject.disabled) reject.click();
      } else {
        return;
      }
      if (view && view.highlight) view.highlight(document.activeElement.closest("li[data-index]"));
    });
  }

  /** A Name field whose Enter does what the row's Create does. */
  function nameField(label, create) {
    return el("input", { class: "form-control text-input cf-name", type: "text", placeholder: "Name", "aria-label": label,
                         onkeydown: (e) => {
                           if (e.key === "Enter") {
                             e.preventDefault();
                             create(e.target.value.trim());
                           }
                         } });
  }

  class FacesView extends Panel {
    constructor(imageId, img) {
      super();
      this.imageId = imageId;
      this.img = img;
      this.anchor = img;
      this.faces = [];
      this.frame = null;
      this.status = el("span", { class: "cf-status", role: "status", "aria-live": "polite" });
      this.list = el("ol", { class: "cf-face-list", "aria-label": "Faces" });
      rowKeys(this.list, this);
      this.button = el("button", { class: "btn btn-secondary cf-faces-button", type: "button",
                                   text: "Faces", onclick: () => this.identify(false) });
      this.again = lookAgainButton(() => this.identify(true));
      this.alert = failureAlert();
      this.panel = el("div", { class: "cf-panel" }, this.button, this.again, this.status, this.alert,
                      this.recentStrip(), this.list);
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
      prunePortals();
    }

    /** Faces: the kept last look when there is one (at once), else a look; `again`: a fresh look. */
    identify(again) {
      return this.act(again ? "Looking again" : "Finding faces", async () => {
        const output = await this.keptLook(again);
        this.show(output);
        if (again) this.forgetFaceBound();
        this.again.hidden = false;
        return (this.faces.length === 1 ? "1 face" : `${this.faces.length} faces`) + lookedAt(output);
      }, true);
    }

    /** The kept last look (a look when none is kept); `again`: a fresh look. */
    keptLook(again) {
      return runMode("identifyImage", { imageId: this.imageId, associateExisting: "false",
                                        cached: again ? "false" : "true" });
    }

    /** Redraws every row and box from an answer (a look, or an action's). */
    show(output) {
      this.faces = readingOrder((output && output.faces) || []);
      // Boxes are in the pixels the plugin analysed: `frame` when it says so, else the image's own.
      if (output && output.frame) this.frame = output.frame;
      this.render();
    }

    render() {
      this.list.replaceChildren(...this.faces.map((face) => this.row(face)));
      prunePortals();
      // The box's label is its number (inside the box, so labels never overlap or leave the picture); the
      // full label is the box's name, shown on hover and focus, and the row's first line.
      this.overlay.replaceChildren(...this.faces.filter((f) => f.box).map((face) => el("div", {
        class: `cf-box cf-${faceState(face)}`, "data-index": String(face.index), tabindex: "0", role: "button",
        "aria-label": faceLabel(face), title: faceLabel(face),
        onfocus: () => this.highlight(this.rowOf(face.index)),
        onclick: () => { const row = this.rowOf(face.index); if (row) row.focus(); },
      }, el("span", { class: "cf-label", "aria-hidden": "true", text: String(face.number) }))));
      if (mediaReady(this.img)) this.place();
      else this.img.addEventListener(this.img.tagName === "VIDEO" ? "loadedmetadata" : "load", () => this.place(),
                                     { once: true });
    }

    rowOf(index) {
      return this.list.querySelector(`li[data-index="${index}"]`);
    }

    /** The focused row's box stands out, and the other way round. */
    highlight(row) {
      for (const node of this.panel.querySelectorAll(".cf-current")) node.classList.remove("cf-current");
      for (const node of this.overlay.querySelectorAll(".cf-current")) node.classList.remove("cf-current");
      if (!row) return;
      row.classList.add("cf-current");
      const box = this.overlay.querySelector(`.cf-box[data-index="${row.dataset.index}"]`);
      if (box) box.classList.add("cf-current");
    }

    /** Positions the overlay on the displayed picture and each box in percent of the analysed frame. */
    place() {
      const rect = contentRect(this.img);
      Object.assign(this.overlay.style, { left: `${rect.left}px`, top: `${rect.top}px`,
                                          width: `${rect.width}px`, height: `${rect.height}px` });
      const [nw, nh] = naturalSize(this.img);
      const fw = (this.frame && this.frame.width) || nw;
      const fh = (this.frame && this.frame.height) || nh;
      for (const box of this.overlay.children) {
        const b = this.faces.find((f) => String(f.index) === box.dataset.index).box;
        Object.assign(box.style, {
          left: `${(100 * b.x_min) / fw}%`, top: `${(100 * b.y_min) / fh}%`,
          width: `${(100 * (b.x_max - b.x_min)) / fw}%`, height: `${(100 * (b.y_max - b.y_min)) / fh}%`,
        });
      }
    }

    row(face) {
      const create = (name) => this.create(face, name);
      const name = nameField(`Name for face ${face.number}`, create);
      const buttons = [];
      if (face.rejected && !face.performer) {
        // Not them: someone new (Create) or someone else (the performer search below).
        buttons.push(el("span", { class: "cf-rejected", text: `not ${face.rejected}` }), name,
                     el("button", { class: "btn btn-success cf-create", type: "button", text: "Create",
                                    onclick: () => create(name.value.trim()) }));
      } else if (face.performer) {
        if (face.linked) buttons.push(el("span", { class: "cf-linked", text: "linked" }));
        else buttons.push(el("button", { class: "btn btn-primary cf-confirm", type: "button", text: "Confirm",
                                         "aria-keyshortcuts": "Y", onclick: () => this.confirm(face) }));
        buttons.push(el("button", { class: "btn btn-danger cf-reject", type: "button", text: "Not this person",
                                    "aria-keyshortcuts": "N", onclick: () => this.reject(face) }));
      } else {
        buttons.push(name);
        buttons.push(el("button", { class: "btn btn-success cf-create", type: "button", text: "Create",
                                    onclick: () => create(name.value.trim()) }));
      }
      buttons.push(performerPicker(`Another performer for face ${face.number}`, (p) => this.pick(face, p)));
      const label = faceLabel(face) + (face.linked || face.rejected ? "" : ` (${face.status})`);
      return el("li", { class: `cf-face cf-${faceState(face)}`, "data-index": String(face.index), tabindex: "0",
                        "aria-label": label, onfocus: (e) => e.target === e.currentTarget && this.highlight(e.target) },
                el("div", { class: "cf-face-head" }, faceThumb(this.img, face, this.frame),
                   el("span", { class: "cf-face-label", text: label })), ...buttons);
    }

    get item() {
      return { imageId: this.imageId };
    }

    confirm(face) {
      return this.faceAct(`Linking ${face.performer.name}`, "assignFace", face.index,
                          { performerId: face.performer.id });
    }

    pick(face, performer) {
      return this.faceAct(`Linking ${performer.name}`, "assignFace", face.index, { performerId: performer.id });
    }

    reject(face) {
      return this.faceAct(`Not ${face.performer.name}`, "notThisFace", face.index, {}, face.performer);
    }

    create(face, name) {
      if (this.busy) return false;
      if (!name) return this.say("Type a name first", true);
      return this.faceAct(`Creating ${name}`, "nameFace", face.index, { name });
    }
  }

  // ---------------------------------------------------------------- the scene page

  function clock(seconds) {
    const s = Math.floor(seconds);
    const hms = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
    return (hms[0] ? `${hms[0]}:${String(hms[1]).padStart(2, "0")}` : String(hms[1])) +
      `:${String(hms[2]).padStart(2, "0")}`;
  }

  /** The people worth a row: one-frame strays are noise, not people to act on. */
  function keptPeople(people) {
    return people.filter((p) => p.subject || p.performer || p.rejected || p.frames >= 2);
  }

  function personName(p) {
    if (p.performer) return p.performer.name;
    return p.subject || "unknown person";
  }

  /** Everyone identifyScene found in the scene, each with the evidence and the same actions as a face. */
  class SceneView extends Panel {
    constructor(sceneId, toolbar) {
      super();
      this.sceneId = sceneId;
      this.people = [];
      this.status = el("span", { class: "cf-status", role: "status", "aria-live": "polite" });
      this.list = el("ul", { class: "cf-people", "aria-label": "People in the scene" });
      rowKeys(this.list, null);
      this.button = el("button", { class: "btn btn-secondary cf-faces-button", type: "button",
                                   text: "Faces", onclick: () => this.identify(false) });
      this.again = lookAgainButton(() => this.identify(true));
      this.alert = failureAlert();
      this.panel = el("div", { class: "cf-panel cf-scene-panel" }, this.button, this.again, this.status, this.alert,
                      this.recentStrip(), this.list);
      toolbar.after(this.panel);
      this.anchor = toolbar;
    }

    destroy() {
      this.panel.remove();
      prunePortals();
    }

    get item() {
      return { sceneId: this.sceneId };
    }

    /** The kept last look (a look when none is kept); `again`: a fresh look. */
    keptLook(again) {
      return runMode("identifyScene", { sceneId: this.sceneId, associateExisting: "false",
                                        cached: again ? "false" : "true" });
    }

    /** Redraws the list from an answer (a look, or an action's). */
    show(output) {
      this.people = keptPeople((output && output.people) || this.people);
      this.render();
    }

    identify(again) {
      return this.act(again ? "Looking again" : "Finding faces in the scene", async () => {
        const output = await this.keptLook(again);
        this.people = keptPeople((output && output.people) || []);
        this.render();
        if (again) this.forgetFaceBound();
        this.again.hidden = false;
        const n = this.people.length;
        return `${n} ${n === 1 ? "person" : "people"} in ${output.what}${lookedAt(output)}`;
      }, true);
    }

    render() {
      this.list.replaceChildren(...this.people.map((p, i) => this.row(p, i)));
      prunePortals();
    }

    row(p, i) {
      const face = p.face ? el("img", { class: "cf-crop", alt: personName(p), src: `data:image/jpeg;base64,${p.face}` })
                          : el("span", { class: "cf-crop cf-no-crop", text: "?" });
      const times = el("span", { class: "cf-times" }, ...p.times.map((t) => el("button", {
        class: "btn btn-link btn-sm cf-time", type: "button", text: clock(t), onclick: () => this.seek(t) })));
      const label = `${personName(p)}${percent(p.similarity)}: ${p.frames} frame${p.frames === 1 ? "" : "s"}` +
        (p.linked ? "" : ` (${p.status})`);
      const actions = [];
      const name = nameField(`Name for ${personName(p)}`, (typed) => this.create(p, typed));
      if (p.status === "rejected") {
        actions.push(el("span", { class: "cf-rejected", text: `not ${p.rejected || personName(p)}` }));
      } else if (p.performer) {
        if (p.linked) actions.push(el("span", { class: "cf-linked", text: "linked" }));
        else actions.push(el("button", { class: "btn btn-primary cf-confirm", type: "button", text: "Confirm",
                                         "aria-keyshortcuts": "Y", onclick: () => this.confirm(p) }));
        actions.push(el("button", { class: "btn btn-danger cf-reject", type: "button", text: "Not this person",
                                    "aria-keyshortcuts": "N", onclick: () => this.reject(p) }));
      } else if (p.subject) {
        actions.push(name, el("button", { class: "btn btn-success cf-create", type: "button", text: "Create",
                                          onclick: () => this.create(p, name.value.trim()) }));
      }
      actions.push(performerPicker(`Another performer for ${personName(p)}`, (performer) => this.pick(p, performer)));
      return el("li", { class: "cf-person", "data-index": String(p.index), "data-status": p.status, tabindex: "0",
                        "aria-label": label }, face,
                el("div", { class: "cf-person-info" }, el("span", { class: "cf-face-label", text: label }), times),
                el("div", { class: "cf-actions" }, ...actions));
    }

    /** Stash's player is a video.js around a <video>: setting its time seeks it. */
    seek(seconds) {
      const video = document.querySelector(".scene-player-container video") || document.querySelector("video");
      if (video) video.currentTime = seconds;
    }

    confirm(p) {
      return this.faceAct(`Linking ${p.performer.name}`, "assignFace", p.index, { performerId: p.performer.id });
    }

    reject(p) {
      return this.faceAct(`Not ${p.performer.name}`, "notThisFace", p.index, {}, p.performer);
    }

    pick(p, performer) {
      return this.faceAct(`Linking ${performer.name}`, "assignFace", p.index, { performerId: performer.id });
    }

    create(p, name) {
      if (this.busy) return false;
      if (!name) return this.say("Type a name first", true);
      return this.faceAct(`Creating ${name}`, "nameFace", p.index, { name });
    }
  }

  // ---------------------------------------------------------------- the review page

  const REVIEW_PATH = "/plugin/compreface/review";
  const PAGE = 40;  // candidates per page, from the server (reviewData offset/limit)

  /** A sighting or link as the plugin names it (image:12, scene:3), linking to its page. */
  function itemLink(ref) {
    const [kind, id] = ref.split(":");
    return appLink({ class: "cf-item", href: `${BASE}${kind}s/${id}`, text: `${kind} ${id}` });
  }

  function when(seconds) {
    return new Date(seconds * 1000).toLocaleString();
  }

  function plural(n, word) {
    return `${n.toLocaleString()} ${word}${n === 1 ? "" : "s"}`;
  }

  /** Unknown people as a grid of face cards, a page of 40 at a time, the most seen first; select some and
   * Name them (one performer), Merge them into a performer, Merge them together (one unknown person) or
   * Reject them, each one run that updates only its cards (typed names and selections elsewhere stay). Faces
   * come for the cards on screen only (candidateFaces); when the face service is down the page still works
   * from the local state, with placeholders and a banner. Recent runs below, each undoable. */
  class ReviewView extends Panel {
    constructor(root) {
      super();
      this.root = root;
      this.offset = 0;
      this.count = 0;
      this.cards = [];  // this page's candidates, as reviewData listed them (seen updated by merges)
      this.selected = new Set();
      this.drafts = new Map();  // subject -> typed name, kept across redraws
      this.faces = new Map();  // subject -> base64 JPEG, or null: none
      this.asked = new Set();  // subjects whose face was asked (or is being asked)
      this.wanted = [];  // subjects on screen whose face is not asked yet
      this.runsData = [];
      this.status = el("p", { class: "cf-status", role: "status", "aria-live": "polite" });
      this.banner = el("div", { class: "alert alert-danger cf-banner", role: "alert" });
      this.banner.hidden = true;
      this.grid = el("div", { class: "cf-grid", role: "list", "aria-label": "Candidates" });
      this.pager = el("nav", { class: "cf-pager", "aria-label": "Candidate pages" });
      this.bar = this.bulkBar();
      this.runs = el("ul", { class: "cf-runs" });
      this.panel = el("div", { class: "cf-review" },
                      el("h2", { text: "Faces to review" }), this.status, this.banner, this.bar, this.grid,
                      this.pager, el("h3", { text: "Recent runs" }), this.runs);
      root.replaceChildren(this.panel);
      this.observer = "IntersectionObserver" in window
        ? new IntersectionObserver((entries) => this.onVisible(entries), { rootMargin: "200px" }) : null;
      this.load(0);
    }

    // -- reading

    load(offset) {
      return this.act("Loading", async () => {
        await this.fetchPage(offset);
        if (!this.opened) {
          this.opened = true;
          if (window.performance && performance.mark) performance.mark("compreface:review-open");
        }
        return () => this.summary();
      }, true);
    }

    summary() {
      if (!this.count) return "No candidates";
      const last = Math.min(this.offset + this.cards.length, this.count);
      return `${plural(this.count, "candidate")}` + (this.count > PAGE ? `, ${this.offset + 1}–${last} shown` : "");
    }

    /** One page of candidates (and, on the first, the recent runs), drawn; typed names and selection stay. */
    async fetchPage(offset) {
      const data = await runMode("reviewData", { offset: String(offset), limit: String(PAGE) });
      this.offset = offset;
      this.count = data.candidateCount || 0;
      this.cards = data.candidates || [];
      if (data.runs) this.runsData = data.runs;
      this.render();
    }

    render() {
      if (this.observer) this.observer.disconnect();
      this.grid.replaceChildren(...this.cards.map((c) => this.card(c)));
      if (!this.cards.length) this.grid.append(el("p", { class: "cf-none", text: "No candidates" }));
      this.renderPager();
      this.renderBar();
      this.runs.replaceChildren(...this.runsData.map((r) => this.runRow(r)));
      prunePortals();
    }

    renderPager() {
      const pages = Math.max(1, Math.ceil(this.count / PAGE));
      const page = Math.floor(this.offset / PAGE) + 1;
      const prev = el("button", { class: "btn btn-secondary cf-prev", type: "button", text: "Previous",
                                  onclick: () => this.load(Math.max(0, this.offset - PAGE)) });
      const next = el("button", { class: "btn btn-secondary cf-next", type: "button", text: "Next",
                                  onclick: () => this.load(this.offset + PAGE) });
      prev.disabled = page <= 1;
      next.disabled = page >= pages;
      this.pager.replaceChildren(prev, el("span", { class: "cf-page", text: `Page ${page} of ${pages}` }), next);
      this.pager.hidden = pages <= 1;
    }

    card(c) {
      const crop = this.cropOf(c.subject);
      const check = el("input", { type: "checkbox", class: "cf-select", "aria-label": `Select ${c.subject}`,
                                  onchange: (e) => this.select(c.subject, e.target.checked) });
      check.checked = this.selected.has(c.subject);
      const name = nameField(`Name for ${c.subject}`, (typed) => this.name([c.subject], typed));
      name.value = this.drafts.get(c.subject) || "";
      name.addEventListener("input", () => this.drafts.set(c.subject, name.value));
      const links = c.items.map(itemLink);
      const seen = el("div", { class: "cf-seen" }, `seen in ${plural(c.seen, "item")}: `,
                      ...links.flatMap((a, i) => (i ? [", ", a] : [a])), c.seen > links.length ? ", …" : "");
      const card = el("div", { class: `card grid-card cf-card${check.checked ? " cf-selected" : ""}`, role: "listitem",
                               "data-subject": c.subject },
        el("label", { class: "cf-card-select" }, check, crop),
        el("div", { class: "card-section cf-card-body" },
          el("h5", { class: "card-section-title cf-subject", text: c.subject }), seen,
          el("div", { class: "cf-card-actions" }, name,
            el("button", { class: "btn btn-success btn-sm cf-name-button", type: "button", text: "Name",
                           onclick: () => this.name([c.subject], name.value.trim()) }),
            el("button", { class: "btn btn-danger btn-sm cf-reject-candidate", type: "button", text: "Reject",
                           onclick: () => this.reject([c.subject]) }))));
      if (this.observer) this.observer.observe(card);
      else this.want(c.subject);
      return card;
    }

    /** The card's face: known, a placeholder while it comes, or "?" when there is none. */
    cropOf(subject) {
      const face = this.faces.get(subject);
      if (face) return el("img", { class: "cf-crop", alt: subject, src: `data:image/jpeg;base64,${face}` });
      return el("span", { class: `cf-crop cf-no-crop${this.faces.has(subject) ? "" : " cf-loading"}`,
                          "aria-hidden": "true", text: this.faces.has(subject) ? "?" : "" });
    }

    // -- faces of the cards on screen

    onVisible(entries) {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        this.observer.unobserve(entry.target);
        this.want(entry.target.dataset.subject);
      }
    }

    want(subject) {
      if (this.faces.has(subject) || this.asked.has(subject)) return;
      this.asked.add(subject);
      this.wanted.push(subject);
      if (!this.faceTimer) this.faceTimer = setTimeout(() => this.fetchFaces(), 30);
    }

    /** One candidateFaces call for the cards that came into view (one more when more came meanwhile). */
    async fetchFaces() {
      this.faceTimer = null;
      if (this.fetching || !this.wanted.length) return;
      const subjects = this.wanted.splice(0, PAGE);
      this.fetching = true;
      try {
        const out = await runMode("candidateFaces", { subjects });
        for (const subject of subjects) {
          const face = out.faces ? out.faces[subject] : null;
          if (out.faceServiceError && !face) {
            this.asked.delete(subject);  // asked again on Retry
            continue;
          }
          this.faces.set(subject, face || null);
          this.redrawCrop(subject);
        }
        this.showBanner(out.faceServiceError);
      } catch (e) {
        for (const subject of subjects) this.asked.delete(subject);
        this.showBanner(e.message);
      } finally {
        this.fetching = false;
        if (this.wanted.length) this.fetchFaces();
      }
    }

    redrawCrop(subject) {
      const card = this.cardOf(subject);
      const old = card && card.querySelector(".cf-crop");
      if (old) old.replaceWith(this.cropOf(subject));
    }

    /** The face service is down (or not set up): the cards stay, with placeholders; Retry asks again. */
    showBanner(error) {
      this.banner.hidden = !error;
      if (!error) return this.banner.replaceChildren();
      const settings = settingsLink("plugin settings");
      this.banner.replaceChildren(
        el("span", { text: `Faces cannot be shown: ${error}. Naming, merging and rejecting still work; check the ` }),
        settings, el("span", { text: ". " }),
        el("button", { class: "btn btn-sm btn-light cf-retry", type: "button", text: "Retry",
                       onclick: () => this.retryFaces() }));
    }

    retryFaces() {
      this.showBanner(null);
      for (const c of this.cards) this.want(c.subject);
    }

    // -- selection and the bulk bar

    bulkBar() {
      this.count_ = el("span", { class: "cf-selected-count" });
      this.all = el("input", { type: "checkbox", class: "cf-select-all", "aria-label": "Select every card on this page",
                               onchange: (e) => this.selectAll(e.target.checked) });
      this.bulkName = el("input", { class: "form-control text-input cf-bulk-name", type: "text", placeholder: "Name",
                                    "aria-label": "Name for the selected candidates",
                                    onkeydown: (e) => {
                                      if (e.key === "Enter") {
                                        e.preventDefault();
                                        this.name([...this.selected], this.bulkName.value.trim());
                                      }
                                    } });
      this.bulkButtons = {
        name: el("button", { class: "btn btn-success cf-bulk-name-button", type: "button", text: "Name",
                             onclick: () => this.name([...this.selected], this.bulkName.value.trim()) }),
        together: el("button", { class: "btn btn-primary cf-merge-together", type: "button", text: "Merge together",
                                 title: "The selected candidates are one person",
                                 onclick: () => this.mergeTogether([...this.selected]) }),
        reject: el("button", { class: "btn btn-danger cf-bulk-reject", type: "button", text: "Reject",
                               onclick: () => this.reject([...this.selected]) }),
      };
      this.merger = performerPicker("Merge the selected candidates into a performer",
                                    (p) => this.merge([...this.selected], p));
      return el("div", { class: "cf-bulk-bar", role: "toolbar", "aria-label": "Selected candidates" },
        el("label", { class: "cf-select-all-label" }, this.all, " All on this page"), this.count_,
        this.bulkName, this.bulkButtons.name, this.merger, this.bulkButtons.together, this.bulkButtons.reject);
    }

    renderBar() {
      const n = this.selected.size;
      this.count_.textContent = `${n} selected`;
      this.all.checked = this.cards.length > 0 && this.cards.every((c) => this.selected.has(c.subject));
      if (this.busy) return;
      this.bulkButtons.name.disabled = n === 0;
      this.bulkButtons.reject.disabled = n === 0;
      this.bulkButtons.together.disabled = n < 2;
      this.bar.classList.toggle("cf-none-selected", n === 0);
    }

    select(subject, on) {
      if (on) this.selected.add(subject);
      else this.selected.delete(subject);
      const card = this.cardOf(subject);
      if (card) card.classList.toggle("cf-selected", on);
      this.renderBar();
    }

    selectAll(on) {
      for (const c of this.cards) {
        this.select(c.subject, on);
        const box = this.cardOf(c.subject) && this.cardOf(c.subject).querySelector(".cf-select");
        if (box) box.checked = on;
      }
    }

    cardOf(subject) {
      return [...this.grid.children].find((card) => card.dataset.subject === subject) || null;
    }

    setBusy(busy) {
      super.setBusy(busy);
      if (!busy) this.renderBar();
    }

    // -- actions: each one run, updating only its cards

    /** The cards of ``subjects`` leave the page (named, merged or rejected); the others stay as typed. */
    drop(subjects) {
      for (const subject of subjects) {
        const card = this.cardOf(subject);
        if (card) card.remove();
        this.selected.delete(subject);
        this.drafts.delete(subject);
      }
      const gone = new Set(subjects);
      const before = this.cards.length;
      this.cards = this.cards.filter((c) => !gone.has(c.subject));
      this.count = Math.max(0, this.count - (before - this.cards.length));
      if (!this.cards.length) this.grid.replaceChildren(el("p", { class: "cf-none", text: "No candidates" }));
      this.renderPager();
      this.renderBar();
      prunePortals();
    }

    /** The action's run, at the top of the recent runs with its Undo (no reload of the list). */
    addRun(out, mode) {
      if (!out || !out.runId) return;
      this.runsData = [{ runId: out.runId, mode, started_at: Date.now() / 1000, undone: false, writes: 1,
                         linkCount: 0, links: [] }, ...this.runsData.filter((r) => r.runId !== out.runId)];
      this.runs.replaceChildren(...this.runsData.map((r) => this.runRow(r)));
    }

    async refreshStashPanels() {
      await refreshStash({ evict: true });  // Stash's pages read again when the user goes to them
    }

    bulk(subjects, what, work) {
      if (!subjects.length) return this.say("Select a candidate first", true);
      return this.act(what, async () => {
        const message = await work();
        await this.refreshStashPanels();
        return message;
      });
    }

    name(subjects, name) {
      if (this.busy) return false;
      if (!name) return this.say("Type a name first", true);
      return this.bulk(subjects, `Naming ${subjects.length === 1 ? subjects[0] : plural(subjects.length, "candidate")}`,
                       async () => {
        const out = await runMode("nameCandidate", { subjects, name });
        this.drop(out.subjects || subjects);
        if (subjects.length > 1) this.bulkName.value = "";
        this.addRun(out, "nameCandidate");
        const from = subjects.length === 1 ? subjects[0] : plural(subjects.length, "candidate");
        return `${out.performer.name} created from ${from}: ${plural(out.linkedImages, "image")}, ` +
          `${plural(out.linkedScenes, "scene")} linked`;
      });
    }

    merge(subjects, performer) {
      return this.bulk(subjects, `Merging into ${performer.name}`, async () => {
        const out = await runMode("mergeIntoPerformer", { subjects, performerId: performer.id });
        this.drop(out.subjects || subjects);
        this.addRun(out, "mergeIntoPerformer");
        return `${subjects.length === 1 ? subjects[0] : plural(subjects.length, "candidate")} merged into ` +
          out.performer.name;
      });
    }

    mergeTogether(subjects) {
      if (subjects.length < 2) return this.say("Select two or more candidates to merge together", true);
      return this.bulk(subjects, `Merging ${plural(subjects.length, "candidate")} together`, async () => {
        const out = await runMode("mergeCandidates", { subjects });
        this.drop(out.merged);
        const keeper = this.cards.find((c) => c.subject === out.subject);
        if (keeper) {
          keeper.seen = out.seen;
          const card = this.cardOf(keeper.subject);
          if (card) card.replaceWith(this.card(keeper));
          this.select(keeper.subject, false);
        }
        this.addRun(out, "mergeCandidates");
        return `${out.merged.join(", ")} merged into ${out.subject}: seen in ${plural(out.seen, "item")}`;
      });
    }

    reject(subjects) {
      return this.bulk(subjects, `Rejecting ${subjects.length === 1 ? subjects[0] : plural(subjects.length, "candidate")}`,
                       async () => {
        const out = await runMode("rejectCandidate", { subjects });
        this.drop(out.subjects || subjects);
        this.addRun(out, "rejectCandidate");
        return `${subjects.length === 1 ? subjects[0] : plural(subjects.length, "candidate")} rejected: ` +
          `${subjects.length === 1 ? "it never becomes" : "they never become"} a performer (Undo brings ` +
          `${subjects.length === 1 ? "it" : "them"} back)`;
      });
    }

    runRow(r) {
      const text = `#${r.runId} ${r.mode}, ${when(r.started_at)}` +
        (r.writes ? `, ${plural(r.writes, "write")}` : "");
      // The run's first automatic links, each with its own "not this person".
      const links = (r.links || []).flatMap((link) => link.performers.map((p) => el("li", { class: "cf-run-link" },
        itemLink(link.item), ` → ${p.name || `performer ${p.id} (deleted)`} `,
        p.name ? el("button", { class: "btn btn-danger btn-sm cf-reject", type: "button", text: "Not this person",
                                onclick: () => this.notThisPerson(link.item, p) }) : null)));
      const more = r.linkCount > (r.links || []).length
        ? el("li", { text: `and ${r.linkCount - r.links.length} more` }) : null;
      return el("li", { class: "cf-run", "data-run": String(r.runId) }, el("span", { text }),
        r.undone ? el("span", { class: "cf-undone", text: "undone" })
                 : el("button", { class: "btn btn-warning btn-sm cf-undo", type: "button", text: "Undo",
                                  onclick: () => this.undo(r.runId) }),
        links.length ? el("ul", { class: "cf-run-links" }, ...links, more) : null);
    }

    notThisPerson(ref, performer) {
      const [kind, id] = ref.split(":");
      return this.act(`Not ${performer.name}`, async () => {
        await runMode("rejectMatch", { performerId: performer.id, [`${kind}Id`]: id });
        await this.refreshStashPanels();
        for (const r of this.runsData) {
          r.links = (r.links || []).filter((l) => !(l.item === ref && l.performers.some((p) => p.id === performer.id)));
        }
        this.runs.replaceChildren(...this.runsData.map((r) => this.runRow(r)));
        return `${performer.name} removed from ${kind} ${id} and will not be linked to it again`;
      });
    }

    /** Undo: the run is reverted, and this page of candidates read again (what came back shows; typed names
     * and selections of the cards that stayed are kept). */
    undo(runId) {
      return this.act(`Undoing run ${runId}`, async () => {
        await runMode("undoRun", { runId: String(runId) });
        await this.refreshStashPanels();
        for (const r of this.runsData) if (r.runId === runId) r.undone = true;
        await this.fetchPage(this.offset);
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

  // ---------------------------------------------------------------- the performer page

  /** The faces the plugin learned a performer from (performerFaces), each with the item it came from and
   * "Remove this face" (removeFace: one run, with Undo right there). Stash v0.30.1 lets plugins patch
   * PerformerPage but not its tab list, so this is a "Faces" section under the page's tabs, loaded when
   * the user opens it (a process and the face service per look, as the image page's Faces). */
  class PerformerFacesView extends Panel {
    constructor(performerId, root) {
      super();
      this.performerId = performerId;
      this.status = el("span", { class: "cf-status", role: "status", "aria-live": "polite" });
      this.alert = failureAlert();
      this.grid = el("div", { class: "cf-grid cf-performer-faces-grid", role: "list", "aria-label": "Learned faces" });
      this.button = el("button", { class: "btn btn-secondary cf-performer-faces-button", type: "button",
                                   text: "Faces learned", "aria-expanded": "false", onclick: () => this.load() });
      this.panel = el("section", { class: "cf-panel cf-performer-faces", "aria-label": "Faces learned" },
                      this.button, this.status, this.alert, this.grid);
      root.replaceChildren(this.panel);
    }

    load() {
      return this.act("Reading the faces", async () => {
        this.show(await runMode("performerFaces", { performerId: this.performerId }));
        this.button.setAttribute("aria-expanded", "true");
        return this.faces.length ? `${plural(this.faces.length, "face")} learned` : "No face learned yet";
      }, true);
    }

    /** Undo beside the result of a removal. */
    async act(what, work, look) {
      const done = await super.act(what, work, look);
      if (this.pendingUndo) {  // after the status line says what was done
        this.status.append(" ", el("button", { class: "btn btn-warning btn-sm cf-undo", type: "button", text: "Undo",
                                               onclick: ((runId) => () => this.undo(runId))(this.pendingUndo) }));
        this.pendingUndo = null;
      }
      return done;
    }

    show(output) {
      this.faces = (output && output.faces) || [];
      this.grid.replaceChildren(...this.faces.map((f) => this.card(f)));
    }

    card(f) {
      const where = f.source ? itemLink(f.source) : el("span", { text: "the performer's image or an earlier run" });
      return el("div", { class: "card grid-card cf-card cf-face-card", role: "listitem", "data-example": f.exampleId },
        el("img", { class: "cf-crop", alt: `A face of ${f.subject}`, src: `data:image/jpeg;base64,${f.face}` }),
        el("div", { class: "card-section cf-card-body" },
          el("div", { class: "cf-seen" }, "from ", where),
          el("button", { class: "btn btn-danger btn-sm cf-remove-face", type: "button", text: "Remove this face",
                         onclick: () => this.remove(f) })));
    }

    remove(f) {
      return this.act("Removing the face", async () => {
        const out = await runMode("removeFace", { performerId: this.performerId, subject: f.subject,
                                                  exampleId: f.exampleId });
        this.show(out);
        this.pendingUndo = out.runId;
        return "Face removed: it no longer makes this performer match";
      });
    }

    undo(runId) {
      return this.act("Putting the face back", async () => {
        await runMode("undoRun", { runId: String(runId) });
        this.show(await runMode("performerFaces", { performerId: this.performerId }));
        return "Face put back";
      });
    }
  }

  /** Under Stash's performer page (PluginApi.patch.after("PerformerPage")): the faces section. */
  function PerformerFaces(props) {
    const R = api.React;
    const ref = R.useRef(null);
    const id = props.performer && props.performer.id;
    R.useEffect(() => {
      if (ref.current && id) new PerformerFacesView(id, ref.current);
    }, [id]);
    return R.createElement("div", { ref, className: "cf-performer-faces-root" });
  }

  function performerPage(...args) {
    const props = args[0];
    const result = args[args.length - 1];
    const R = api.React;
    return R.createElement(R.Fragment, null, result,
                           R.createElement(PerformerFaces, { performer: props.performer, key: "cf-faces" }));
  }

  // ---------------------------------------------------------------- mounting on navigation

  // Each page the plugin adds to: its path, the element to wait for (Stash renders the page after the
  // location event), and the view built on it.
  const PAGES = [
    { path: IMAGE_PATH, find: () => document.querySelector(IMAGE_SELECTOR), make: (id, img) => new FacesView(id, img) },
    { path: SCENE_PATH, find: () => document.querySelector(SCENE_TOOLBAR), make: (id, bar) => new SceneView(id, bar) },
  ];
  let view = null;
  let pending = null;

  function mount(pathname) {
    const page = PAGES.find((p) => p.path.test(pathname));
    const id = page ? page.path.exec(pathname)[1] : null;
    if (view && (view.page !== page || view.id !== id || !view.anchor.isConnected)) {
      view.destroy();
      view = null;
    }
    clearInterval(pending);
    if (!page || view) return;
    // Stash renders the page once its query answers, however long that takes: wait for it as long as the
    // route is this page (the next navigation ends the wait).
    pending = setInterval(() => {
      if (!page.path.test(routePath())) return clearInterval(pending);
      const node = page.find();
      if (!node) return;
      clearInterval(pending);
      view = Object.assign(page.make(id, node), { page, id });
    }, 100);
  }

  /** The "Faces" entry, leading to the review page, and the host of Stash's components for the plain-DOM
   * views (PortalHost). Stash renders the utility items twice (in the collapsible menu and in the button bar,
   * MainNavBar.tsx): the entry is drawn in the button bar only, visible at every width. */
  function NavEntry() {
    const R = api.React;
    const [where, setWhere] = R.useState(null);
    const probe = R.useCallback((node) => {
      if (node) setWhere(node.closest(".navbar-buttons") || !node.closest(".navbar-collapse") ? "bar" : "menu");
    }, []);
    if (where === null) return R.createElement("span", { ref: probe, hidden: true });
    if (where !== "bar") return null;
    const router = api.libraries && api.libraries.ReactRouterDOM;
    const button = R.createElement("button", { className: "minimal d-flex align-items-center h-100 btn cf-nav",
                                               type: "button", title: "Faces to review" }, "Faces");
    const link = router && router.NavLink
      ? R.createElement(router.NavLink, { className: "nav-utility", exact: true, to: REVIEW_PATH }, button)
      : R.createElement("a", { className: "nav-utility", href: BASE + REVIEW_PATH.slice(1) }, button);
    return R.createElement(R.Fragment, null, link, R.createElement(PortalHost));
  }

  function navEntry(props) {
    const R = api.React;
    return [Object.assign({}, props, { children: R.createElement(R.Fragment, null, props.children,
                                                                 R.createElement(NavEntry)) })];
  }

  const api = window.PluginApi;
  if (api && api.React && api.register && api.register.route) api.register.route(REVIEW_PATH, ReviewPage);
  if (api && api.React && api.patch && api.patch.before) api.patch.before("MainNavBar.UtilityItems", navEntry);
  if (api && api.React && api.patch && api.patch.after) api.patch.after("PerformerPage", performerPage);
  if (api && api.Event && api.Event.addEventListener) {
    api.Event.addEventListener("stash:location", (e) => mount(e.detail.data.location.pathname));
  }
  mount(routePath());
})();
