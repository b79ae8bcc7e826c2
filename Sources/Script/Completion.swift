/// Tab completion for the REPL: keywords, builtins, variables, members after `x.`, and `:commands`.
public enum Completion {
    public static let replCommands = [":help", ":vars", ":time", ":load", ":quit"]

    /// The completions of the word that ends at `cursor` in `line`. A member completion returns the
    /// full `base.member` text, because `.` does not break words.
    public static func candidates(line: String, cursor: Int? = nil, interpreter: Interpreter) -> [String] {
        let chars = Array(line)
        let end = min(cursor ?? chars.count, chars.count)
        var start = end
        while start > 0, chars[start - 1].isLetter || chars[start - 1].isNumber || chars[start - 1] == "_" || chars[start - 1] == "." {
            start -= 1
        }
        let word = String(chars[start..<end])
        if start == 1, chars[0] == ":" {
            return replCommands.filter { $0.hasPrefix(":" + word) }.map { String($0.dropFirst()) }
        }
        if start == 0, word.isEmpty, chars.first == ":" { return replCommands }
        if let dot = word.lastIndex(of: ".") {
            let base = String(word[..<dot])
            let partial = String(word[word.index(after: dot)...])
            guard let value = resolve(base, interpreter) else { return [] }
            var names = interpreter.memberNames(of: value)
            if case .object = value {} else if case .record = value {} else if partial.count >= 1 {
                // `x.f()` calls builtin f with x first: offer builtins once a letter is typed.
                names += Builtins.all.filter { !$0.params.isEmpty }.map(\.name)
            }
            return Array(Set(names.filter { $0.hasPrefix(partial) })).sorted().map { base + "." + $0 }
        }
        let pool = Lexer.keywords.union(interpreter.globals.allNames).union(Builtins.names)
        // Inside `f(…` also offer f's parameter names as `name:` (keyword arguments).
        var labels: [String] = []
        if let callee = enclosingCall(Array(chars[..<start])), let b = Builtins.lookup(callee) {
            labels = b.params.filter { !$0.variadic && $0.name.hasPrefix(word) }.map { $0.name + ":" }
        }
        return labels + pool.filter { $0.hasPrefix(word) }.sorted()
    }

    /// The name before the innermost unclosed `(` in `text` (nil when not inside a call).
    static func enclosingCall(_ text: [Character]) -> String? {
        var quote: Character? = nil
        // Strings are skipped by scanning forward first: find which parens are real.
        var open: [Int] = []
        for (k, c) in text.enumerated() {
            if let q = quote { if c == q { quote = nil }; continue }
            switch c {
            case "\"", "'": quote = c
            case "(", "[", "{": open.append(k)
            case ")", "]", "}": if !open.isEmpty { open.removeLast() }
            default: break
            }
        }
        guard let p = open.last, text[p] == "(" else { return nil }
        var i = p - 1
        while i >= 0, text[i] == " " { i -= 1 }
        var name = ""
        while i >= 0, text[i].isLetter || text[i].isNumber || text[i] == "_" { name.insert(text[i], at: name.startIndex); i -= 1 }
        return name.isEmpty ? nil : name
    }

    /// Looks up `a.b.c` (variables and members only, nothing is called).
    static func resolve(_ path: String, _ interp: Interpreter) -> Value? {
        let parts = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard let first = parts.first, var v = interp.globals.lookup(first) else { return nil }
        for p in parts.dropFirst() {
            switch v {
            case .record(let r): guard let x = r[p] else { return nil }; v = x
            case .object(let o): guard let x = try? o.member(p) else { return nil }; v = x
            default: return nil
            }
        }
        return v
    }
}
