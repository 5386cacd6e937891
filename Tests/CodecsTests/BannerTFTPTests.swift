import Testing
@testable import CordonCodecs

@Suite struct BannerTests {
    @Test func windowsShellBanners() {
        let xp = BannerClassifier.classify(BannerClassifier.windowsXPShellBanner)
        #expect(xp.kind == .windowsShell(version: "5.1.2600", prompt: "C:\\WINDOWS\\system32>"))
        #expect(!xp.evidence.contains("\r"))
        #expect(BannerClassifier.classify(BannerClassifier.windows2000ShellBanner).kind
                == .windowsShell(version: "5.00.2195", prompt: "C:\\WINNT\\system32>"))
        #expect(BannerClassifier.classify(Array("C:\\>".utf8)).kind == .windowsShell(version: nil, prompt: "C:\\>"))
    }

    @Test func ftpOtherAndEmpty() {
        #expect(BannerClassifier.classify(Array("220 Bot FTP ready\r\n".utf8)).kind == .ftp(greeting: "220 Bot FTP ready"))
        #expect(BannerClassifier.classify(Array("220-Welcome\r\n220 ok\r\n".utf8)).kind == .ftp(greeting: "220-Welcome"))
        #expect(BannerClassifier.classify(Array("SSH-2.0-OpenSSH_9.2\r\n".utf8)).kind == .other)
        #expect(BannerClassifier.classify([]).kind == .empty)
        #expect(BannerClassifier.classify([0x0D, 0x0A]).kind == .empty)
    }

    @Test func evidenceIsBoundedAndPrintable() {
        let hostile = [UInt8](repeating: 0x1B, count: 10_000) + Array("Microsoft Windows [Version 6.1.7601]".utf8)
        let result = BannerClassifier.classify(hostile)
        #expect(result.evidence.count <= 160)
        #expect(result.evidence.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F })
    }
}

@Suite struct TFTPTests {
    @Test func readRequestBytes() {
        #expect(TFTP.readRequest() == [0, 1] + Array("cordon-probe-nonexistent.txt".utf8) + [0] + Array("octet".utf8) + [0])
        #expect(TFTP.readRequest(fileName: "../etc/passwd") == TFTP.readRequest())
    }

    @Test func repliesAreClassified() {
        #expect(TFTP.parseReply(TFTP.makeError()) == .error(code: 1, message: "File not found"))
        #expect(TFTP.parseReply([0, 3, 0, 1] + Array("MZ".utf8)) == .data(block: 1, size: 2))
        #expect(TFTP.parseReply([0, 6, 0x62, 0x6C, 0x6B, 0]) == .optionAck)
        #expect(TFTP.parseReply([0, 5, 0, 99]) == .notTFTP)
        #expect(TFTP.parseReply(Array("HTTP/1.1".utf8)) == .notTFTP)
        #expect(TFTP.parseReply([0]) == .notTFTP)
        #expect(TFTP.serviceAnswered(TFTP.makeError(code: 2, message: "Access violation")))
    }
}
