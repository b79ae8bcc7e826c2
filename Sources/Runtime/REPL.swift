import CReadline
import Datasets
import Foundation
import Plot
import Script

/// The interactive loop: reads entries (several lines while a statement is unfinished), runs them
/// in one interpreter, prints expression values, and handles `:commands`. Errors and Ctrl-C end the
/// current entry only.
public final class REPL {
    public let interpreter: Interpreter
    let reader: LineReader
    let interactive: Bool
    var entryCount = 0

    public init(context: RunContext = RunContext()) {
        context.installRuntimeServices()
        interpreter = Interpreter(context: context)
        interactive = crl_isatty(0) != 0
        reader = interactive ? ReadlineReader(interpreter: interpreter) : PlainReader()
        pictureMode = TerminalPicture.mode(isTerminal: crl_isatty(1) != 0, deviceAttributes: REPL.deviceAttributes(interactive: interactive))
        if let mode = pictureMode {
            context.display = { [weak self] picture in
                self?.say(picture.render(mode: mode, maxColumns: REPL.terminalColumns()), newline: false)
            }
        }
    }

    /// The terminal's answer to `ESC [ c` (whether it draws sixels), asked once before readline
    /// takes the terminal; nil when not interactive, `dumb`, or `SARDFQ_PICTURES` decides.
    static func deviceAttributes(interactive: Bool) -> String? {
        let env = ProcessInfo.processInfo.environment
        guard interactive, crl_isatty(1) != 0, env["SARDFQ_PICTURES"] == nil, let term = env["TERM"], !term.isEmpty, term != "dumb" else { return nil }
        var buf = [CChar](repeating: 0, count: 64)
        let n = crl_query_device_attributes(&buf, Int32(buf.count), 150)
        return n > 0 ? String(cString: buf) : nil
    }

    /// How pictures are drawn (nil: not at all; `SARDFQ_PICTURES=off`).
    let pictureMode: TerminalPicture.Mode?

    /// The terminal's width in cells (COLUMNS, else 80), less one so a picture never wraps.
    static func terminalColumns() -> Int {
        if let c = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), c > 1 { return c - 1 }
        return 79
    }

    /// A figure value at the prompt: a heatmap as a picture; another chart rendered by gnuplot to
    /// PNG and drawn as a picture in a colour terminal, as gnuplot's text plot otherwise.
    func displayFigure(_ figure: FigureObject) -> Bool {
        guard let mode = pictureMode, let display = interpreter.context.display else { return false }
        if let h = figure.chart as? Heatmap, let p = try? TerminalPicture(heatmap: h.values) {
            display(p)
            return true
        }
        guard mode != .text else { return false }  // pixels or colour half blocks; gnuplot's text plot otherwise
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sardfq-repl-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let png = dir.appendingPathComponent("figure.png").path
        guard (try? Gnuplot().render(figure.chart, to: png)) != nil, let img = try? RGBImage.decode(path: png),
              let p = try? TerminalPicture(width: img.width, height: img.height, channels: 3, pixels: img.pixels) else { return false }
        display(p)
        return true
    }

    func say(_ s: String, newline: Bool = true) { Console.write(1, Data((newline ? s + "\n" : s).utf8)) }
    func complain(_ s: String) { Console.write(2, Data((s + "\n").utf8)) }

    /// Runs until `:quit` or end of input. Returns the exit status.
    public func run() -> Int32 {
        crl_install_sigint(Interrupt.flag)
        if interactive {
            say("sardfq \(Version.string) — type :help for help, :quit to leave")
        }
        defer { reader.close() }
        while true {
            guard let entry = readEntry() else { break }
            if entry.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            reader.remember(entry)
            if !handle(entry) { break }
        }
        if interactive { say("") }
        return 0
    }

    /// Reads one complete entry; nil at end of input.
    func readEntry() -> String? {
        // A Ctrl-C that came as a command was finishing anyway is spent: it must not cancel the next line.
        Interrupt.clear()
        var buffer = ""
        while true {
            let prompt = buffer.isEmpty ? "dfq> " : "...> "
            switch reader.read(prompt: interactive ? prompt : "") {
            case .eof:
                return buffer.isEmpty ? nil : buffer
            case .cancelled:
                if !interactive { complain("interrupted") }
                buffer = ""
                continue
            case .line(let l):
                buffer += buffer.isEmpty ? l : "\n" + l
                if buffer.hasPrefix(":") { return buffer }
                if Parser.isIncomplete(buffer) { continue }
                return buffer
            }
        }
    }

    /// Executes one entry; false means quit.
    func handle(_ entry: String) -> Bool {
        Interrupt.clear()
        let trimmed = entry.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix(":") {
            let parts = trimmed.split(separator: " ", maxSplits: 1).map(String.init)
            let arg = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
            switch parts[0] {
            case ":quit", ":q", ":exit": return false
            case ":help", ":h":
                say(arg.isEmpty ? REPL.helpText : Builtins.helpText(for: .string(arg)))
            case ":vars":
                let vars = interpreter.globals.vars.sorted { $0.key < $1.key }
                if vars.isEmpty { say("(no variables)") }
                for (k, v) in vars {
                    var text = v.repr.replacingOccurrences(of: "\n", with: " ")
                    if text.count > 70 { text = String(text.prefix(70)) + "…" }
                    say("\(k): \(v.typeName) = \(text)")
                }
            case ":time":
                let t0 = ProcessInfo.processInfo.systemUptime
                evaluate(arg)
                say(String(format: "time: %.3f s", ProcessInfo.processInfo.systemUptime - t0))
            case ":load":
                guard !arg.isEmpty else { complain("usage: :load FILE"); return true }
                do {
                    let file = try SourceFile.read(path: arg)
                    evaluate(file.text, name: arg, printValue: false)
                } catch {
                    complain("\(error)")
                }
            default:
                complain("unknown command \(parts[0]) (commands: \(Completion.replCommands.joined(separator: " ")))")
            }
            return true
        }
        evaluate(entry)
        return true
    }

    /// Runs code; prints the value of a final expression (unless none) or the error.
    func evaluate(_ code: String, name: String = "<repl>", printValue: Bool = true) {
        entryCount += 1
        do {
            let v = try interpreter.run(source: code, name: name)
            if printValue, let v {
                if case .object(let f as FigureObject) = v, displayFigure(f) {} else if case .nothing = v {} else { say(v.repr) }
            }
        } catch {
            complain("\(error)")
        }
        Interrupt.clear()
    }

    static let helpText = """
    Enter statements or expressions; an expression's value is printed. Unfinished input
    (open brackets, a trailing operator) continues on the next line. Tab completes names and
    members, Ctrl-C stops a running command, Ctrl-D leaves.
    Commands:
      :help [name]   this text, or the help of a builtin
      :vars          the variables defined so far
      :time expr     run and show the elapsed time
      :load file     run a recipe file in the running REPL
      :quit          leave
    help() lists every builtin by area.
    """
}
