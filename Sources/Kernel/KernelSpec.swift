import Foundation
import Plot
import Script

/// Registering the kernel with Jupyter, and recipes as notebooks.
public enum KernelSpec {
    /// Writes `kernels/sardfq/kernel.json` under Jupyter's data folder: `<prefix>/share/jupyter`
    /// with a prefix (a venv's, say), else `$JUPYTER_DATA_DIR`, else `~/.local/share/jupyter`.
    /// The kernel is started as `<this binary> kernel -f {connection_file}` and interrupted by
    /// message (`interrupt_request` on the control channel). Returns the folder written.
    @discardableResult
    public static func install(prefix: String?, binary: String) throws -> URL {
        let env = ProcessInfo.processInfo.environment
        let data: URL
        if let prefix {
            data = URL(fileURLWithPath: prefix).appendingPathComponent("share/jupyter")
        } else if let d = env["JUPYTER_DATA_DIR"], !d.isEmpty {
            data = URL(fileURLWithPath: d)
        } else {
            data = URL(fileURLWithPath: env["HOME"] ?? NSHomeDirectory()).appendingPathComponent(".local/share/jupyter")
        }
        let dir = data.appendingPathComponent("kernels/sardfq")
        let spec: [String: Any] = [
            "argv": [binary, "kernel", "-f", "{connection_file}"],
            "display_name": "sardfq", "language": "sardfq", "interrupt_mode": "message",
            "metadata": ["debugger": false],
        ]
        let json = try JSONSerialization.data(withJSONObject: spec, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try AtomicFile.write(json + Data("\n".utf8), to: dir.appendingPathComponent("kernel.json").path)
        return dir
    }

    /// A recipe as a notebook (nbformat 4.5): the header comment as a Markdown cell, then a code
    /// cell per section (`# --- …` lines; see `RunNotebook`). `quick` and `overrides` become a
    /// first cell of kernel commands (`:quick`, `:set name=value`), as `sardfq run` takes them.
    public static func notebook(for file: SourceFile, program: Program, quick: Bool, overrides: [String: String]) throws -> Data {
        let sections = RunNotebook(file: file, program: program).sections
        var cells: [[String: Any]] = []
        func lines(_ text: String) -> [String] {
            let parts = text.components(separatedBy: "\n")
            return parts.enumerated().map { $0.offset + 1 < parts.count ? $0.element + "\n" : $0.element }
        }
        func cell(_ type: String, _ text: String) -> [String: Any] {
            var c: [String: Any] = ["cell_type": type, "id": String(UUID().uuidString.lowercased().prefix(8)), "metadata": [:], "source": lines(text)]
            if type == "code" { c["outputs"] = []; c["execution_count"] = NSNull() }
            return c
        }
        let name = URL(fileURLWithPath: file.name).deletingPathExtension().lastPathComponent
        cells.append(cell("markdown", "# \(name)\n\nThe recipe `\(file.name)`, one cell per section; run with the sardfq kernel (`sardfq kernel install`)."))
        var commands: [String] = quick ? [":quick"] : []
        commands += overrides.keys.sorted().map { ":set \($0)=\(overrides[$0]!)" }
        if !commands.isEmpty { cells.append(cell("code", commands.joined(separator: "\n"))) }
        for s in sections where !s.source.isEmpty { cells.append(cell("code", s.source)) }
        let nb: [String: Any] = [
            "nbformat": 4, "nbformat_minor": 5, "cells": cells,
            "metadata": ["kernelspec": ["name": "sardfq", "display_name": "sardfq", "language": "sardfq"],
                         "language_info": ["name": "sardfq", "file_extension": ".dfq", "mimetype": "text/x-sardfq"]],
        ]
        return try JSONSerialization.data(withJSONObject: nb, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }
}
