import Foundation

/// What one `sardfq run` did, section by section: the record its HTML notebook is made from
/// (Runtime's `NotebookPage`).
///
/// Sections: a recipe divides itself with `# --- Title ---` lines; the lines above the first one
/// are the preamble. A recipe without such lines is divided at each column-0 comment block that
/// follows a blank line and precedes a top-level statement. Everything the run prints, writes or
/// reports while a top-level statement of a section runs belongs to that section.
public final class RunNotebook: @unchecked Sendable {
    /// One thing a section produced, in order.
    public enum Event {
        case printed(String)
        /// A file written under the run's output folder (through `Output`, so with provenance).
        case wrote(URL)
        /// A finished progress report (`synthesize 100/100 ce=0.1  0:12`).
        case progress(String)
        /// The error that stopped the run.
        case failed(String)
    }

    public struct Section {
        public let title: String
        /// 1-based line range of the recipe.
        public let lines: ClosedRange<Int>
        public let source: String
        public var events: [Event] = []
        /// Seconds spent running this section's statements.
        public var seconds: Double = 0
    }

    public let recipeName: String
    public private(set) var sections: [Section]
    private var current = 0
    private var enteredAt: Double?
    private let lock = NSLock()

    public init(file: SourceFile, program: Program) {
        recipeName = URL(fileURLWithPath: file.name).deletingPathExtension().lastPathComponent
        sections = RunNotebook.sections(of: file, program: program)
    }

    /// The recipe's sections (see the type's comment); never empty.
    static func sections(of file: SourceFile, program: Program) -> [Section] {
        let lines = file.lines.map(String.init)
        func isMarker(_ l: String) -> Bool { l.hasPrefix("# ---") }
        var starts: [Int] = []  // 1-based first lines
        let markers = lines.indices.filter { isMarker(lines[$0]) }.map { $0 + 1 }
        if !markers.isEmpty {
            starts = (markers.first! > 1 ? [1] : []) + markers
        } else {
            starts = [1]
            for s in program.statements {
                // Walk up over the comment block directly above the statement.
                var k = s.pos.line - 1  // 1-based line above
                while k >= 1, lines[k - 1].hasPrefix("#") { k -= 1 }
                let commentStart = k + 1
                if commentStart < s.pos.line, k >= 1, lines[k - 1].trimmingCharacters(in: .whitespaces).isEmpty,
                   commentStart > starts.last! {
                    starts.append(commentStart)
                }
            }
        }
        var out: [Section] = []
        for (i, start) in starts.enumerated() {
            let end = i + 1 < starts.count ? starts[i + 1] - 1 : max(lines.count, start)
            let body = lines[(start - 1)..<min(end, lines.count)]
            out.append(Section(title: title(of: body, preamble: i == 0 && markers.first.map { $0 > 1 } == true),
                               lines: start...end, source: body.joined(separator: "\n").trimmingCharacters(in: .newlines)))
        }
        return out
    }

    /// A section's heading: its first comment line without `#` and dashes.
    static func title<C: Collection>(of body: C, preamble: Bool) -> String where C.Element == String {
        if preamble { return "Setup" }
        for l in body where l.hasPrefix("#") {
            let t = l.drop { $0 == "#" || $0 == "-" || $0 == " " }.reversed().drop { $0 == "-" || $0 == " " }.reversed()
            let text = String(t)
            if !text.isEmpty { return text.count > 90 ? String(text.prefix(89)) + "…" : text }
        }
        return "Statements"
    }

    /// Called before each top-level statement runs.
    public func enter(line: Int) {
        lock.lock(); defer { lock.unlock() }
        let now = ProcessInfo.processInfo.systemUptime
        if let t = enteredAt { sections[current].seconds += now - t }
        enteredAt = now
        if let k = sections.lastIndex(where: { $0.lines.lowerBound <= line }) { current = k }
    }

    /// Closes the time of the last section (called once the run ends).
    public func finish() {
        lock.lock(); defer { lock.unlock() }
        if let t = enteredAt { sections[current].seconds += ProcessInfo.processInfo.systemUptime - t }
        enteredAt = nil
    }

    public func record(_ e: Event) {
        lock.lock(); defer { lock.unlock() }
        // Consecutive prints are one block of output.
        if case .printed(let s) = e, case .printed(let before)? = sections[current].events.last {
            sections[current].events[sections[current].events.count - 1] = .printed(before + s)
            return
        }
        if case .wrote(let url) = e, sections[current].events.contains(where: { if case .wrote(let u) = $0 { return u == url }; return false }) {
            return  // a file written twice appears once, where it was first written
        }
        sections[current].events.append(e)
    }

    /// Every file the run wrote, in order.
    public var writtenFiles: [URL] {
        lock.lock(); defer { lock.unlock() }
        return sections.flatMap { $0.events.compactMap { if case .wrote(let u) = $0 { return u }; return nil } }
    }
}
