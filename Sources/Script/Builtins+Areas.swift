/// The installers of every builtin table. Each area adds one line here and keeps its table in its own
/// file (`Builtins+Model.swift` with `static func installModel() { register(area: "model", [...]) }`).
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
