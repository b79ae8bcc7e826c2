/// The installers of every builtin table. Each area adds one line here and keeps its table in its own
/// file: `Builtins+Model.swift` starts with `static func installModel() { register(area: "model", ModelArea.builtins) }`
/// and `enum ModelArea`, whose `builtins` lists one `Builtin("name", nameSpec, name)` per line; each
/// builtin's spec (docs, parameters) and its `static func name(_ a: Args) throws -> Value` follow.
/// The order does not matter: `help`, completion and the docs sort by `Builtins.areaOrder`.
extension Builtins {
    static let installers: [() -> Void] = [
        installTensor,
        installLoss,
        installRuntime,
        installModel,
        installData,
        installPlot,
        installQuant,
        installSynthesis,
        installAnalysis,
    ]
}
