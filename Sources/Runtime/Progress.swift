import Foundation
import Script

/// Progress of long work (synthesis iterations, calibration, evaluation).
///
/// On a terminal it redraws one line: `label [#######.....] 70/100 ce=1.234 kl=0.01  0:07<0:03`.
/// Otherwise (logs, CI) it prints a plain line at most every `interval` seconds, plus the last one.
/// Builtins reach it through their run context (`context.progress(total:label:)`), where the front
/// ends install it (`installRuntimeServices`).
///
///     let p = Progress(total: iters, label: "synthesize")
///     for i in 0..<iters { …; p.update(i + 1, terms: [("ce", ce), ("tv", tv)]) }
///     p.finish()
public final class Progress: ProgressReport {
    /// Set to false to silence every reporter (tests).
    nonisolated(unsafe) public static var enabled = true

    public let total: Int
    public let label: String
    let isTerminal: Bool
    let interval: Double
    let write: (String) -> Void
    let clock: () -> Double
    /// When set, reports go here instead of stderr, at most four a second: (the report, its line
    /// with a bar, whether it is the last). The Jupyter kernel shows each as one updating output.
    let reporter: ((ObjectIdentifier, String, Bool) -> Void)?
    /// Receives the plain summary line of the finished report (`sardfq run` puts it in the notebook).
    let summary: ((String) -> Void)?
    let start: Double
    var lastDraw = -Double.infinity
    var lastCount = 0
    var lastTerms: [(String, Double)] = []
    var finished = false

    /// `output` defaults to stderr; `isTerminal` defaults to whether stderr is a terminal;
    /// `clock` is injectable for tests.
    public init(total: Int, label: String, interval: Double = 5, isTerminal: Bool? = nil,
                output: ((String) -> Void)? = nil, clock: (() -> Double)? = nil,
                reporter: ((ObjectIdentifier, String, Bool) -> Void)? = nil, summary: ((String) -> Void)? = nil) {
        self.total = max(total, 1)
        self.label = label
        self.interval = interval
        self.isTerminal = isTerminal ?? (isatty(2) != 0)
        self.write = output ?? { Console.write(2, Data($0.utf8)) }
        self.clock = clock ?? { ProcessInfo.processInfo.systemUptime }
        self.reporter = reporter
        self.summary = summary
        self.start = self.clock()
        // Plain output waits one interval before the first line (short work prints only the last).
        self.lastDraw = self.isTerminal ? -Double.infinity : self.start
    }

    /// Reports that `i` of `total` steps are done, with the current loss terms.
    public func update(_ i: Int, terms: [(String, Double)] = []) {
        guard Progress.enabled, !finished else { return }
        lastCount = i
        lastTerms = terms
        let t = clock()
        let last = i >= total
        if let report = reporter {
            guard last || t - lastDraw >= 0.25 else { return }
            lastDraw = t
            report(ObjectIdentifier(self), line(i, terms: terms, now: t, bar: true), false)
            return
        }
        if isTerminal {
            guard last || t - lastDraw >= 0.1 else { return }
            lastDraw = t
            write("\r\u{1B}[K" + line(i, terms: terms, now: t, bar: true))
        } else {
            guard last || t - lastDraw >= interval else { return }
            lastDraw = t
            write(line(i, terms: terms, now: t, bar: false) + "\n")
        }
    }

    /// Ends the line on a terminal (call once when the work is done or aborted).
    public func finish() {
        guard Progress.enabled, !finished else { return }
        finished = true
        if let report = reporter {
            report(ObjectIdentifier(self), line(lastCount, terms: lastTerms, now: clock(), bar: true), true)
        } else if isTerminal { write("\n") }
        summary?(line(lastCount, terms: lastTerms, now: clock(), bar: false))
    }

    /// The text of one report (public for tests).
    public func line(_ i: Int, terms: [(String, Double)], now: Double, bar: Bool) -> String {
        let frac = min(1, max(0, Double(i) / Double(total)))
        var s = label + " "
        if bar {
            let width = 24
            let filled = Int((frac * Double(width)).rounded(.down))
            s += "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
        }
        s += "\(i)/\(total)"
        for (name, v) in terms { s += " \(name)=" + Progress.format(v) }
        let elapsed = now - start
        s += "  " + Progress.clockText(elapsed)
        if i > 0 && i < total {
            s += "<" + Progress.clockText(elapsed / Double(i) * Double(total - i))
        }
        return s
    }

    static func format(_ v: Double) -> String {
        if v == 0 || (abs(v) >= 1e-3 && abs(v) < 1e5) { return String(format: "%.4g", v) }
        return String(format: "%.3e", v)
    }

    /// `m:ss` or `h:mm:ss`.
    public static func clockText(_ seconds: Double) -> String {
        let s = Int(max(0, seconds).rounded())
        if s >= 3600 { return String(format: "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60) }
        return String(format: "%d:%02d", s / 60, s % 60)
    }
}
