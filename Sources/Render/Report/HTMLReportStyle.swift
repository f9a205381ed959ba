/// The HTML report's style sheet (system fonts only: nothing to fetch).
enum HTMLReportStyle {
    static let css = #"""
    :root { --fg: #1d1d1f; --muted: #5f6368; --line: #dadce0; --bg: #fbfaf6; --card: #ffffff; --accent: #1a5fb4; --heap: #d9480f; --rss: #1a5fb4; }
    * { box-sizing: border-box; }
    body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--fg); background: var(--bg); }
    header { padding: 16px 28px 8px; border-bottom: 1px solid var(--line); background: var(--card); }
    header h1 { margin: 0 0 4px; font-size: 20px; }
    header p { margin: 2px 0; }
    nav { margin-top: 6px; }
    nav a { margin-right: 14px; color: var(--accent); text-decoration: none; font-size: 13px; }
    main { padding: 8px 28px 40px; }
    section { margin: 22px 0; padding: 14px 18px; background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
    h2 { margin: 0 0 10px; font-size: 17px; }
    h3 { margin: 0 0 6px; font-size: 14px; }
    code { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 12.5px; }
    .command code { font-size: 14px; }
    .meta, .note { color: var(--muted); font-size: 12.5px; }
    .warning { color: #b00020; font-weight: 600; }
    .info { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px; min-height: 1.4em; margin: 4px 0; }
    .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(165px, 1fr)); gap: 10px; }
    .card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; background: #fdfdfb; }
    .card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
    .card .value { font-size: 22px; font-weight: 650; margin: 2px 0; font-variant-numeric: tabular-nums; }
    .card .sub { color: var(--muted); font-size: 12px; }
    #timeline-chart svg { width: 100%; height: auto; display: block; user-select: none; cursor: crosshair; }
    #timeline-chart .axis text { font-size: 11px; fill: var(--muted); }
    #timeline-chart .grid { stroke: #eee; }
    .legend { font-size: 12px; }
    button { font: inherit; font-size: 12.5px; padding: 3px 10px; border: 1px solid var(--line); border-radius: 5px; background: #f6f6f3; cursor: pointer; }
    button.active { background: var(--accent); color: #fff; border-color: var(--accent); }
    .tabs button { margin-right: 6px; }
    #fg-search { font: inherit; font-size: 12.5px; padding: 2px 6px; margin-left: 8px; }
    #fg { position: relative; width: 100%; overflow-x: hidden; overflow-y: auto; max-height: 660px; border-top: 1px solid var(--line); border-bottom: 1px solid var(--line); background: #fffdf7; }
    #fg .fr { position: absolute; height: 17px; overflow: hidden; white-space: nowrap; text-overflow: ellipsis; font: 11.5px/17px ui-monospace, "DejaVu Sans Mono", monospace;
              padding: 0 3px; border-right: 1px solid #fffdf7; border-bottom: 1px solid #fffdf7; cursor: pointer; color: #000; }
    #fg .fr:hover { outline: 1px solid #000; z-index: 2; }
    #fg .fr.ancestor { opacity: .55; }
    #fg .fr.match { background: rgb(230, 0, 230) !important; color: #fff; }
    table { border-collapse: collapse; width: 100%; font-size: 13px; }
    th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eee; vertical-align: top; }
    td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
    th[data-type="num"] { text-align: right; }
    table.sortable th { cursor: pointer; user-select: none; background: #f6f6f3; position: sticky; top: 0; }
    table.sortable th.asc::after { content: " ▲"; }
    table.sortable th.desc::after { content: " ▼"; }
    table.in-range td:nth-child(n+4) { color: var(--muted); }
    details summary { cursor: pointer; }
    .loc { color: var(--muted); font-size: 12px; }
    ol.stack { margin: 4px 0 4px 8px; padding-left: 22px; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; color: #333; }
    .histograms { display: grid; grid-template-columns: repeat(auto-fit, minmax(380px, 1fr)); gap: 18px; }
    table.bars th { font-weight: normal; white-space: nowrap; background: none; width: 1%; }
    table.bars td { border-bottom: 1px solid #f3f3f3; text-align: right; white-space: nowrap; width: 1%; font-variant-numeric: tabular-nums; }
    table.bars td.bar { width: auto; text-align: left; }
    table.bars td.bar span { display: inline-block; height: 11px; background: #4c8bd6; border-radius: 2px; min-width: 1px; }
    table.bars td.share { color: var(--muted); }
    #heapmap svg { max-width: 100%; height: auto; }
    .placeholder { padding: 18px; border: 2px dashed var(--line); border-radius: 8px; color: var(--muted); text-align: center; }

    """#
}
