import ArgumentParser
import CordonDemo
import Testing

@Suite struct DemoHostCommandTests {
    @Test func parsesDurations() {
        #expect(DemoHostCommand.parseDuration("90") == 90)
        #expect(DemoHostCommand.parseDuration("90s") == 90)
        #expect(DemoHostCommand.parseDuration("30m") == 1800)
        #expect(DemoHostCommand.parseDuration("1h30m") == 5400)
        #expect(DemoHostCommand.parseDuration("1d") == 86400)
        for bad in ["", "h", "1x", "1h30", "-5m", "99999999999h"] { #expect(DemoHostCommand.parseDuration(bad) == nil, "\(bad)") }
    }

    @Test func validatesItsOptions() throws {
        _ = try DemoHostCommand.parse(["--host", "127.0.1.5=wannacry", "--host", "198.18.1.30=conficker:CONF1", "--duration", "24h"])
        for arguments in [[String](), ["--host", "192.0.2.1=xp"], ["--host", "127.0.1.5=nonesuch"],
                          ["--host", "127.0.1.5=xp", "--duration", "25h"], ["--host", "127.0.1.5=xp", "--duration", "0s"],
                          ["--host", "127.0.1.5=xp", "--duration", "soon"], ["--host", "127.0.1.5=xp", "--max-connections", "0"],
                          ["--host", "127.0.1.5=xp", "--host", "127.0.1.5=codered"]] {
            #expect(throws: (any Error).self, "\(arguments)") { try DemoHostCommand.parse(arguments) }
        }
    }

    @Test func isHidden() {
        #expect(DemoHostCommand.configuration.shouldDisplay == false)
        #expect(DemoHostCommand.configuration.commandName == "demo-host")
    }
}
