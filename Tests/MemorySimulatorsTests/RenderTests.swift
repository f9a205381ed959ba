import Testing
@testable import MemorySimulators
@testable import Render

@Test func faultCurveMarksBeladyAnomalyAndIsByteStable() throws {
    let refs = try PageReference.parse("1,2,3,4,1,2,5,1,2,3,4,5")
    let sweep = PageReplacementSweep.run(refs, frames: 1...6, policies: [.fifo, .lru, .opt])
    let svg = FaultCurveSVG.render(sweep, pageSize: 4096)
    #expect(svg == FaultCurveSVG.render(sweep, pageSize: 4096))
    #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"820\" height=\"480\""))
    #expect(svg.hasSuffix("</svg>\n"))
    #expect(svg.components(separatedBy: "class=\"belady-anomaly\"").count == 2)
    #expect(svg.contains("<title>Belady&apos;s anomaly") == false)
    #expect(svg.contains("Belady's anomaly (FIFO): 10 faults with 4 frames &gt; 9 with 3"))
    // FIFO's points, x from 70 (1 frame) to 660 (6 frames), y from 410 (0 faults) to 50 (20 faults).
    #expect(svg.contains("<polyline points=\"70,194 188,194 306,248 424,230 542,320 660,320\" fill=\"none\" stroke=\"#d62728\""))
    for policy in ["fifo", "lru", "opt"] { #expect(svg.contains("id=\"policy-\(policy)\"")) }
    #expect(!svg.contains("policy-clock"))
}

@Test func heatMapGolden() {
    let svg = SetHeatMapSVG.render([SetHeatMapPanel(title: "L1 <test>", setHits: [5, 0], setMisses: [0, 4])])
    let golden = """
    <svg xmlns="http://www.w3.org/2000/svg" width="944" height="140" viewBox="0 0 944 140" font-family="sans-serif" font-size="12">
    <title>Misses per set</title>
    <rect x="0" y="0" width="944" height="140" fill="#ffffff"/>
    <g class="panel" id="panel-0">
    <text x="24" y="38" font-size="14" font-weight="bold">L1 &lt;test&gt;</text>
    <text x="24" y="56" fill="#555555">2 sets, 4 misses, at most 4 in one set; 2 sets a row, set 0 top left</text>
    <rect x="24" y="66" width="27" height="27" fill="#ffffff"><title>set 0: 5 hits, 0 misses</title></rect>
    <rect x="52" y="66" width="27" height="27" fill="#a50026"><title>set 1: 0 hits, 4 misses</title></rect>
    <rect x="24" y="106" width="14" height="14" fill="#ffffff" stroke="#cccccc"/>
    <text x="44" y="117">0 misses</text>
    <rect x="114" y="106" width="14" height="14" fill="#fed7b0" stroke="#cccccc"/>
    <text x="134" y="117">1 misses</text>
    <rect x="204" y="106" width="14" height="14" fill="#fdae61" stroke="#cccccc"/>
    <text x="224" y="117">2 misses</text>
    <rect x="294" y="106" width="14" height="14" fill="#d15744" stroke="#cccccc"/>
    <text x="314" y="117">3 misses</text>
    <rect x="384" y="106" width="14" height="14" fill="#a50026" stroke="#cccccc"/>
    <text x="404" y="117">4 misses</text>
    </g>
    </svg>

    """
    #expect(svg == golden)
}

@Test func textReportsUseFixedFormats() throws {
    let refs = try PageReference.parse("1,2,3,4,1,2,5,1,2,3,4,5")
    let results = [ReplacementPolicy.fifo, .opt].map { PageReplacementSimulator.run(refs, policy: $0, frameCount: 3) }
    #expect(VMSimTextReport.pageReplacement(results, pageSize: 4096) == """
    Page replacement: 12 references, 5 distinct pages of 4 KiB, 3 frames

    policy  faults  hits  hit ratio  compulsory  swap-ins  write-backs
    FIFO         9     3     0.2500           5         0            0
    OPT          7     5     0.4167           5         0            0

    """)
    let json = try VMSimJSON.encode(results[0])
    #expect(json.contains("\"faults\" : 9") && json.contains("\"hitRatio\" : 0.25") && json.contains("\"policy\" : \"fifo\""))
    let sweep = PageReplacementSweep.run(refs, frames: 3...4, policies: [.fifo])
    #expect(VMSimTextReport.sweep(sweep, pageSize: 4096).contains("4        10*\n"))
}
