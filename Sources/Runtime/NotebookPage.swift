import Foundation
import Plot
import Script

/// The HTML notebook of one `sardfq run`: the recipe's sections in order, each with its source,
/// what it printed, its tables and figures inline, its progress summaries, and the run's
/// provenance at the top. One self-contained file (images embedded as data URIs, no script, no
/// external style), light or dark after the reader's system setting.
///
/// Where it goes: `index.html` in the folder that holds every file the run wrote (recipes write
/// into `plots/<recipe>/`, so the notebook lands beside its figures); `<out>/<recipe>/` when the
/// run wrote nothing or wrote straight into `<out>`.
enum NotebookPage {
    /// Files larger than this are listed, not inlined.
    static let inlineLimit = 4 << 20

    static func location(for notebook: RunNotebook, context: RunContext) -> URL {
        let out = context.outputDirectory.standardizedFileURL.path
        let folders = notebook.writtenFiles.map { $0.standardizedFileURL.deletingLastPathComponent().pathComponents }
        if var common = folders.first {
            for f in folders.dropFirst() {
                common = Array(zip(common, f).prefix { $0.0 == $0.1 }.map(\.0))
            }
            let path = NSString.path(withComponents: common)
            if path.hasPrefix(out + "/") { return URL(fileURLWithPath: path).appendingPathComponent("index.html") }
        }
        return context.outputDirectory.appendingPathComponent(notebook.recipeName).appendingPathComponent("index.html")
    }

    /// Writes the page (atomically) and returns where.
    @discardableResult
    static func write(_ notebook: RunNotebook, context: RunContext, failed: Bool) throws -> URL {
        let url = location(for: notebook, context: context)
        try AtomicFile.ensureDirectory(for: url.path)
        try AtomicFile.write(Data(render(notebook, context: context, failed: failed, page: url).utf8), to: url.path)
        return url
    }

    static func render(_ nb: RunNotebook, context: RunContext, failed: Bool, page: URL) -> String {
        var h = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(esc(nb.recipeName)) · sardfq</title>
        <style>\(css)</style></head>
        <body><header><h1>\(esc(nb.recipeName))</h1>
        <p class="status \(failed ? "bad" : "ok")">\(failed ? "stopped by an error (below, in its section)" : "ran to the end")</p>
        \(provenance(context))
        <nav><ol>
        """
        for (i, s) in nb.sections.enumerated() { h += "<li><a href=\"#s\(i + 1)\">\(esc(s.title))</a></li>" }
        h += "</ol></nav></header>\n<main>\n"
        for (i, s) in nb.sections.enumerated() {
            // Recipes number their own sections ("# --- 2. Real images"); others get a number here.
            let numbered = s.title.first?.isNumber == true
            h += "<section id=\"s\(i + 1)\"><h2>" + (numbered ? "" : "<span class=\"n\">\(i + 1)</span> ") + esc(s.title)
            if s.seconds >= 0.05 { h += " <span class=\"time\">\(String(format: "%.1f", s.seconds)) s</span>" }
            h += "</h2>\n<details open><summary>source, lines \(s.lines.lowerBound)–\(s.lines.upperBound)</summary>"
            h += "<pre class=\"src\"><code>\(esc(s.source))</code></pre></details>\n"
            for e in s.events { h += event(e, context: context, page: page) }
            h += "</section>\n"
        }
        h += "</main><footer>sardfq \(esc(Version.string)) · written \(esc(ISO8601DateFormatter().string(from: Date())))</footer></body></html>\n"
        return h
    }

    static func provenance(_ c: RunContext) -> String {
        var rows: [(String, String)] = [("recipe", c.recipePath ?? "?")]
        if !c.parametersUsed.isEmpty {
            rows.append(("parameters", c.parametersUsed.map { "\($0.0) = \($0.1.display)" }.joined(separator: ", ")))
        }
        if !c.seeds.isEmpty { rows.append(("seeds", c.seeds.map { "\($0.0): \($0.1)" }.joined(separator: ", "))) }
        rows.append(("profile", c.quick ? "--quick" : "full"))
        rows.append(("commit", Provenance.gitCommit() ?? "not in a git work tree"))
        rows.append(("started", ISO8601DateFormatter().string(from: c.startDate)))
        rows.append(("wall time", String(format: "%.1f s", ProcessInfo.processInfo.systemUptime - c.startTime)))
        rows.append(("command", CommandLine.arguments.joined(separator: " ")))
        return "<table class=\"prov\">" + rows.map { "<tr><th>\(esc($0.0))</th><td>\(esc($0.1))</td></tr>" }.joined() + "</table>"
    }

    static func event(_ e: RunNotebook.Event, context: RunContext, page: URL) -> String {
        switch e {
        case .printed(let s): return "<pre class=\"out\">\(esc(s))</pre>\n"
        case .progress(let s): return "<p class=\"progress\">\(esc(s))</p>\n"
        case .failed(let s): return "<pre class=\"error\">\(esc(s))</pre>\n"
        case .wrote(let url): return file(url, context: context)
        }
    }

    /// A written file: a PNG or SVG as a figure, a Markdown table as a table, small text as text,
    /// anything else (or anything missing or too large) as a line naming it.
    static func file(_ url: URL, context: RunContext) -> String {
        let out = context.outputDirectory.standardizedFileURL.path + "/"
        let shown = url.standardizedFileURL.path.hasPrefix(out) ? String(url.standardizedFileURL.path.dropFirst(out.count)) : url.path
        let ext = url.pathExtension.lowercased()
        guard let attrs = try? FileManager.default.attributesOfItem(atPath: url.path),
              let size = (attrs[.size] as? NSNumber)?.intValue else {
            return "<p class=\"file\">\(esc(shown)) (not written)</p>\n"
        }
        if size <= inlineLimit, let data = try? Data(contentsOf: url) {
            switch ext {
            case "png", "svg":
                let mime = ext == "png" ? "image/png" : "image/svg+xml"
                return "<figure data-path=\"\(esc(shown))\"><img alt=\"\(esc(shown))\" src=\"data:\(mime);base64,\(data.base64EncodedString())\"><figcaption>\(esc(shown))</figcaption></figure>\n"
            case "md":
                return "<div class=\"table\" data-path=\"\(esc(shown))\">\(markdown(String(decoding: data, as: UTF8.self)))<p class=\"cap\">\(esc(shown))</p></div>\n"
            case "txt", "tsv", "csv", "json":
                guard size <= 20_000 else { break }
                return "<details><summary>\(esc(shown))</summary><pre class=\"out\">\(esc(String(decoding: data, as: UTF8.self)))</pre></details>\n"
            default: break
            }
        }
        return "<p class=\"file\">\(esc(shown)) (\(ByteCountFormatter.string(fromByteCount: Int64(size), countStyle: .file)))</p>\n"
    }

    static func markdown(_ text: String) -> String { MarkdownHTML.render(text) }
    static func esc(_ s: String) -> String { MarkdownHTML.escape(s) }

    static let css = """
    :root{color-scheme:light dark;--bg:#ffffff;--fg:#1f2328;--muted:#59636e;--panel:#f6f8fa;--line:#d1d9e0;--accent:#0969da;--bad:#cf222e;--ok:#1a7f37}
    @media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--panel:#161b22;--line:#3d444d;--accent:#4493f8;--bad:#f85149;--ok:#3fb950}}
    *{box-sizing:border-box}body{margin:0 auto;max-width:980px;padding:24px;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif}
    h1{margin:0 0 4px;font-size:26px}h2{font-size:19px;margin:36px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
    h2 .n{color:var(--muted);margin-right:6px}h2 .time{float:right;color:var(--muted);font-size:13px;font-weight:normal;padding-top:5px}
    .status.ok{color:var(--ok)}.status.bad{color:var(--bad);font-weight:600}
    table{border-collapse:collapse;margin:8px 0;font-size:13.5px}th,td{border:1px solid var(--line);padding:3px 8px;text-align:left;vertical-align:top}
    thead th{background:var(--panel)}.prov th{background:var(--panel);white-space:nowrap}.prov td{word-break:break-all}
    nav ol{columns:2;font-size:14px;margin:12px 0}a{color:var(--accent)}
    pre{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:8px 10px;overflow-x:auto;font:12.5px/1.45 ui-monospace,"DejaVu Sans Mono",monospace;margin:8px 0}
    pre.out{border-left:3px solid var(--accent)}pre.error{border-left:3px solid var(--bad);color:var(--bad)}
    details summary{cursor:pointer;color:var(--muted);font-size:13px}
    figure{margin:12px 0}figure img{max-width:100%;image-rendering:pixelated;border:1px solid var(--line);background:#fff}
    figcaption,.cap,.file,.progress{color:var(--muted);font-size:13px;margin:2px 0}.progress{font-family:ui-monospace,monospace}
    footer{margin-top:48px;color:var(--muted);font-size:12px}
    """
}
