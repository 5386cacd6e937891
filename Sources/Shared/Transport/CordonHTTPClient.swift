import AsyncHTTPClient
import CordonShared
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOPosix
import NIOSSL

/// JSON over HTTPS to the coordinator, with the caller's client certificate and the
/// coordinator's CA as the only trust root. Used by the agent's uplink and the operator CLI.
public final class CordonHTTPClient: Sendable {
    public let baseURL: String
    private let client: HTTPClient
    private let requestTimeout: TimeAmount
    private let maxResponseBytes: Int

    /// - Parameters:
    ///   - baseURL: `https://HOST:PORT`.
    ///   - tls: from ``TLSMaterial``.
    public init(baseURL: String, tls: TLSConfiguration, requestTimeout: TimeAmount = .seconds(60),
                connectTimeout: TimeAmount = .seconds(10), maxResponseBytes: Int = 64 << 20) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: connectTimeout, read: requestTimeout)
        configuration.redirectConfiguration = .disallow
        // Shorter than the coordinator's idle timeout (35 s by default): the client, not the
        // server, closes an idle connection, so no request is sent on one the server is closing.
        configuration.connectionPool = .init(idleTimeout: .seconds(20))
        // Fail fast when the coordinator is down: the agent has its own backoff and spool.
        configuration.connectionPool.retryConnectionEstablishment = false
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.requestTimeout = requestTimeout
        self.maxResponseBytes = maxResponseBytes
    }

    public func shutdown() async {
        try? await client.shutdown()
    }

    public func get<Response: Decodable>(_ path: String, as type: Response.Type = Response.self, timeout: TimeAmount? = nil) async throws -> Response {
        let data = try await send(method: .GET, path: path, body: nil, timeout: timeout)
        return try decode(type, data, path: path)
    }

    public func post<Body: Encodable, Response: Decodable>(_ path: String, body: Body, as type: Response.Type = Response.self,
                                                         timeout: TimeAmount? = nil) async throws -> Response {
        let data = try await send(method: .POST, path: path, body: try CordonJSON.encode(body), timeout: timeout)
        return try decode(type, data, path: path)
    }

    /// GETs raw bytes; nil for 204 No Content.
    public func getRaw(_ path: String, timeout: TimeAmount? = nil) async throws -> Data? {
        let data = try await send(method: .GET, path: path, body: nil, timeout: timeout)
        return data.isEmpty ? nil : data
    }

    public func put<Body: Encodable, Response: Decodable>(_ path: String, body: Body, as type: Response.Type = Response.self) async throws -> Response {
        let data = try await send(method: .PUT, path: path, body: try CordonJSON.encode(body), timeout: nil)
        return try decode(type, data, path: path)
    }

    /// Posts bytes that are already JSON (a spooled report, sent exactly as spooled).
    /// POSTs a JSON body as it is; `contentEncoding` names how it was compressed (gzip).
    public func postRaw<Response: Decodable>(_ path: String, json: Data, contentEncoding: String? = nil,
                                             as type: Response.Type = Response.self) async throws -> Response {
        let data = try await send(method: .POST, path: path, body: json, contentEncoding: contentEncoding, timeout: nil)
        return try decode(type, data, path: path)
    }

    private func decode<T: Decodable>(_ type: T.Type, _ data: Data, path: String) throws -> T {
        do { return try CordonJSON.decode(type, from: data) } catch {
            throw TransportError.badResponse("the coordinator's answer to \(path) did not decode: \(CordonJSON.describe(error))")
        }
    }

    private func send(method: HTTPMethod, path: String, body: Data?, contentEncoding: String? = nil, timeout: TimeAmount?) async throws -> Data {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: ProtocolVersion.headerName, value: ProtocolVersion.current.description)
        request.headers.add(name: "User-Agent", value: "cordon/\(CordonVersion.current)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            if let contentEncoding { request.headers.add(name: "Content-Encoding", value: contentEncoding) }
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response: HTTPClientResponse
        let buffer: ByteBuffer
        do {
            response = try await client.execute(request, timeout: timeout ?? requestTimeout)
            buffer = try await response.body.collect(upTo: maxResponseBytes)
        } catch let error as NIOTooManyBytesError {
            throw TransportError.badResponse("the coordinator's answer to \(path) exceeded \(maxResponseBytes) bytes: \(error)")
        } catch {
            throw TransportError.unreachable("cannot reach the coordinator at \(baseURL): \(Self.describe(error))")
        }
        let data = Data(buffer: buffer)
        guard (200..<300).contains(Int(response.status.code)) else {
            let body = try? CordonJSON.decode(APIErrorBody.self, from: data)
            let message = body?.message ?? String(decoding: data.prefix(300), as: UTF8.self)
            throw TransportError.refused(status: Int(response.status.code), body: body,
                                         "the coordinator refused \(method) \(path) (\(response.status.code)): \(message)")
        }
        return data
    }

    /// Readable causes for the errors AsyncHTTPClient and NIO throw.
    static func describe(_ error: any Error) -> String {
        if let error = error as? NIOSSLError { return "TLS failed: \(error)" }
        if let error = error as? BoringSSLError { return "TLS failed: \(error)" }
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: return "connection timed out"
            case .readTimeout: return "read timed out"
            case .deadlineExceeded: return "request timed out"
            case .remoteConnectionClosed: return "the connection was closed by the coordinator"
            default: return "\(error)"
            }
        }
        let text = "\(error)"
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
        return text
    }
}

/// The TLS material of a Cordon client: its certificate and key (absent during enrollment)
/// and the coordinator's CA, the only trust root.
public enum TLSMaterial {
    public static func client(certificatePEM: String?, keyPEM: String?, caPEM: String) throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8)))
            if let certificatePEM, let keyPEM {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8)).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem))
            }
        } catch {
            throw TransportError.tls("cannot load TLS material: \(error)")
        }
        tls.certificateVerification = .fullVerification
        tls.minimumTLSVersion = .tlsv12
        return tls
    }

    public static func client(certificatePath: String, keyPath: String, caPath: String) throws -> TLSConfiguration {
        func read(_ path: String, _ what: String) throws -> String {
            do { return try SecureFile.readString(path, limit: 1 << 20) } catch {
                throw TransportError.tls("cannot read the \(what) \(path): \(error)")
            }
        }
        return try client(certificatePEM: read(certificatePath, "certificate"), keyPEM: read(keyPath, "private key"), caPEM: read(caPath, "CA certificate"))
    }

    /// For fetching the CA during enrollment only: no verification, because the certificate
    /// fetched this way is trusted solely when its fingerprint matches the operator's pin.
    public static func unverified() -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        tls.minimumTLSVersion = .tlsv12
        return tls
    }
}
