import Foundation
import Plot
import Script

extension JupyterKernel {
    /// Runs a cell. Outputs, in order: prints as `stream`, progress reports as updating displays,
    /// every file the cell wrote as a rich display (PNG/SVG inline, Markdown tables as Markdown and
    /// HTML), then the value of a last expression as the `execute_result`. An error is a Jupyter
    /// error whose value is the diagnostic's header (`cell[3]:2:5: error: …`) and whose traceback
    /// is the diagnostic with its source line and caret; the state before the error is kept.
    ///
    /// Lines `:quick` and `:set name=value` at the top of a cell set the run's profile and
    /// parameters as `sardfq run --quick --set name=value` would (`sardfq notebook` writes them).
    func execute(_ request: JupyterMessage, on socket: ZMQSocket) {
        var code = request.content["code"] as? String ?? ""
        let silent = request.content["silent"] as? Bool ?? false
        if !silent && (request.content["store_history"] as? Bool ?? true) { executionCount += 1 }
        let count = executionCount
        if !silent { publish("execute_input", ["code": code, "execution_count": count], parent: request) }
        running = silent ? nil : request
        defer { running = nil }
        Interrupt.flag.pointee = 0  // an interrupt that arrived while idle does not stop this cell
        var written: [URL] = []
        interpreter.context.wroteOutput = { url in if !written.contains(url) { written.append(url) } }
        defer { interpreter.context.wroteOutput = nil }

        func fail(_ ename: String, _ evalue: String, _ traceback: [String]) {
            for url in written { displayFile(url, parent: request) }
            if !silent { publish("error", ["ename": ename, "evalue": evalue, "traceback": traceback], parent: request) }
            reply(request, "execute_reply", ["status": "error", "execution_count": count, "ename": ename,
                                             "evalue": evalue, "traceback": traceback], on: socket)
        }
        do {
            code = try applyCommands(code)
            let value = try interpreter.run(try Parser.parse(SourceFile(name: "cell[\(count)]", text: code)))
            for url in written { displayFile(url, parent: request) }
            if let value, !silent, let data = richData(value) {
                publish("execute_result", ["execution_count": count, "data": data, "metadata": [:]], parent: request)
            }
            reply(request, "execute_reply", ["status": "ok", "execution_count": count,
                                             "user_expressions": [:], "payload": []], on: socket)
        } catch let list as DiagnosticList {
            fail("SyntaxError", list.items.first?.header ?? "syntax error", list.items.flatMap { $0.description.components(separatedBy: "\n") })
        } catch let d as Diagnostic {
            fail(d.message == "interrupted" ? "KeyboardInterrupt" : "Error", d.header, d.description.components(separatedBy: "\n"))
        } catch {
            fail("Error", "\(error)", "\(error)".components(separatedBy: "\n"))
        }
    }

    /// Takes the leading `:quick` / `:set name=value` lines off a cell and applies them; the
    /// lines are blanked, not removed, so positions in the rest of the cell stay right.
    func applyCommands(_ code: String) throws -> String {
        var lines = code.components(separatedBy: "\n")
        for (i, raw) in lines.enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard line.hasPrefix(":") else { break }
            if line == ":quick" {
                interpreter.context.quick = true
            } else if line.hasPrefix(":set "), let eq = line.firstIndex(of: "="), line.index(line.startIndex, offsetBy: 5) < eq {
                let name = line[line.index(line.startIndex, offsetBy: 5)..<eq].trimmingCharacters(in: .whitespaces)
                interpreter.context.overrides[name] = String(line[line.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
            } else {
                throw Diagnostic("unknown kernel command '\(line.prefix(40))' (the kernel knows :quick and :set name=value)",
                                 at: SourcePos(file: SourceFile(name: "cell[\(executionCount)]", text: code), line: i + 1, col: 1))
            }
            lines[i] = ""
        }
        return lines.joined(separator: "\n")
    }

    /// A file the cell wrote, as a display: an image inline, a Markdown table as Markdown and HTML.
    func displayFile(_ url: URL, parent: JupyterMessage) {
        guard running != nil, let bytes = try? Data(contentsOf: url) else { return }
        var data: [String: Any] = ["text/plain": url.lastPathComponent]
        switch url.pathExtension.lowercased() {
        case "png": data["image/png"] = bytes.base64EncodedString()
        case "svg": data["image/svg+xml"] = String(decoding: bytes, as: UTF8.self)
        case "md":
            let text = String(decoding: bytes, as: UTF8.self)
            data["text/markdown"] = text
            data["text/html"] = MarkdownHTML.render(text)
            data["text/plain"] = text
        default:
            data["text/plain"] = "wrote \(url.path) (\(bytes.count) bytes)"
        }
        publish("display_data", ["data": data, "metadata": ["sardfq": ["path": url.path]]], parent: parent)
    }

    /// The MIME bundle of a value: a figure or an image set as PNG, a table as Markdown and HTML, anything else as text.
    func richData(_ value: Value) -> [String: Any]? {
        if case .nothing = value { return nil }
        var data: [String: Any] = ["text/plain": value.repr]
        if case .object(let figure as FigureObject) = value, let png = try? figure.serialized(for: "figure.png") {
            data["image/png"] = png.base64EncodedString()
        }
        if case .object(let images as ImageSetValue) = value, let png = try? imageSetPNG(images) {
            data["image/png"] = png.base64EncodedString()
        }
        if case .object(let table as Table) = value {
            let md = table.table.markdown()
            data["text/markdown"] = md
            data["text/html"] = MarkdownHTML.render(md)
        }
        return data
    }

    /// An image set as the PNG grid `show` writes (denormalized with the set's mean and std, ×2).
    func imageSetPNG(_ images: ImageSetValue) throws -> Data {
        let grid = try ImageGrid.render(images.set.images, mean: images.set.mean, std: images.set.std, scale: 2)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sardfq-kernel-\(UUID().uuidString).png").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try PNGFile.write(path: path, width: grid.width, height: grid.height, channels: grid.channels, pixels: grid.pixels)
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }

    /// `complete_request`: the REPL's completions of the word before the cursor.
    func complete(_ content: [String: Any]) -> [String: Any] {
        let code = content["code"] as? String ?? ""
        let chars = Array(code)
        let cursor = min(max(content["cursor_pos"] as? Int ?? chars.count, 0), chars.count)  // code points (v5.2+)
        // Completion works on the cursor's line, as the REPL's does.
        var lineStart = cursor
        while lineStart > 0, chars[lineStart - 1] != "\n" { lineStart -= 1 }
        var lineEnd = cursor
        while lineEnd < chars.count, chars[lineEnd] != "\n" { lineEnd += 1 }
        let line = String(chars[lineStart..<lineEnd])
        let matches = Completion.candidates(line: line, cursor: cursor - lineStart, interpreter: interpreter)
        var start = cursor
        while start > lineStart, chars[start - 1].isLetter || chars[start - 1].isNumber || chars[start - 1] == "_" || chars[start - 1] == "." {
            start -= 1
        }
        return ["status": "ok", "matches": matches, "cursor_start": start, "cursor_end": cursor, "metadata": [:]]
    }

    /// `inspect_request`: the help of the builtin (or the description of the variable) under the cursor.
    func inspect(_ content: [String: Any]) -> [String: Any] {
        let chars = Array(content["code"] as? String ?? "")
        let cursor = min(max(content["cursor_pos"] as? Int ?? chars.count, 0), chars.count)
        func isWord(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "_" }
        var start = cursor, end = cursor
        while start > 0, isWord(chars[start - 1]) { start -= 1 }
        while end < chars.count, isWord(chars[end]) { end += 1 }
        // Just after `f(`: the callee.
        if start == end, start > 0, chars[start - 1] == "(" {
            end = start - 1
            start = end
            while start > 0, isWord(chars[start - 1]) { start -= 1 }
        }
        let name = String(chars[start..<end])
        var text: String?
        if Builtins.lookup(name) != nil {
            text = Builtins.helpText(for: .string(name))
        } else if !name.isEmpty, let v = interpreter.globals.vars[name] {
            text = "\(name): \(v.typeName) = \(v.repr)"
        }
        guard let text else { return ["status": "ok", "found": false, "data": [:], "metadata": [:]] }
        return ["status": "ok", "found": true, "data": ["text/plain": text, "text/markdown": text], "metadata": [:]]
    }

    /// `is_complete_request`: incomplete while a bracket, brace or string is open (the REPL's rule).
    func isComplete(_ content: [String: Any]) -> [String: Any] {
        let code = content["code"] as? String ?? ""
        if Parser.isIncomplete(code) { return ["status": "incomplete", "indent": "  "] }
        do { _ = try Parser.parse(SourceFile(name: "cell", text: code)); return ["status": "complete"] } catch {
            return ["status": "invalid"]
        }
    }
}
