// Thumbnail grid for the Retrieval page (a Streamlit components.v2 component).
// data = {groups: [{title, tied, tiles: [{rank, row, distance, mark, symbol, label, uri}]}],
//         selected, size, clickable}. Built with textContent only: labels never become HTML.
// A click on a tile sends its rank back to Python as the trigger value "clicked".
export default function (component) {
  const { data, setTriggerValue, parentElement } = component;
  let root = parentElement.querySelector(".hv-grid");
  if (!root) {
    root = document.createElement("div");
    root.className = "hv-grid";
    parentElement.appendChild(root);
  }
  root.replaceChildren();
  if (!data || !data.groups) return;
  const size = data.size || 64;
  for (const group of data.groups) {
    const box = document.createElement("section");
    box.className = "hv-group" + (group.tied ? " hv-tied" : "");
    if (group.title) {
      const head = document.createElement("div");
      head.className = "hv-group-title";
      head.textContent = group.title;
      box.appendChild(head);
    }
    const tiles = document.createElement("div");
    tiles.className = "hv-tiles";
    for (const t of group.tiles) {
      const clickable = data.clickable && t.rank !== null;
      const el = document.createElement(clickable ? "button" : "div");
      el.className = `hv-tile hv-${t.mark}` + (t.rank !== null && t.rank === data.selected ? " hv-selected" : "");
      el.dataset.rank = t.rank === null ? "" : String(t.rank);
      el.dataset.row = String(t.row);
      el.dataset.mark = t.mark;
      const where = t.rank === null ? "" : `rank ${t.rank} · `;
      el.title = `${where}database index ${t.row} · distance ${t.distance} · label ${t.label} · ${t.mark}`;
      if (t.uri) {
        const img = document.createElement("img");
        img.src = t.uri;
        img.alt = `database item ${t.row}, label ${t.label}`;
        img.style.width = `${size}px`;
        img.style.height = `${size}px`;
        img.style.objectFit = "contain";   // any aspect: letterboxed, never stretched
        el.appendChild(img);
      } else {
        const none = document.createElement("div");
        none.className = "hv-noimage";
        none.style.width = `${size}px`;
        none.style.height = `${size}px`;
        none.textContent = `#${t.row}`;
        el.appendChild(none);
      }
      const cap = document.createElement("div");
      cap.className = "hv-cap";
      const sym = document.createElement("span");
      sym.className = "hv-sym";
      sym.textContent = t.symbol;
      cap.append(sym, (t.rank === null ? " " : ` #${t.rank} `) + `d=${t.distance}`);
      const label = document.createElement("div");
      label.className = "hv-label";
      label.textContent = t.label;
      el.append(cap, label);
      if (clickable) el.addEventListener("click", () => setTriggerValue("clicked", t.rank));
      tiles.appendChild(el);
    }
    box.appendChild(tiles);
    root.appendChild(box);
  }
}
