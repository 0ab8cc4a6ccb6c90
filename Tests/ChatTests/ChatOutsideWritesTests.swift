@testable import Chat
import Foundation
import Realtime
import Testing

@Suite struct ChatOutsideWritesTests {
    let conversation = UUID()
    let user = UUID()

    @Test func aMessageWriteBecomesAChangeByKey() throws {
        let id = UUID().uuidString.lowercased()
        let change = try #require(ChatOutsideWrites.change(from: #"{"table":"messages","type":"UPDATE","conversation_id":"\#(conversation)","key":{"id":"\#(id)"}}"#))
        #expect(change.table == "messages")
        #expect(change.type == .update)
        #expect(change.conversationID == conversation)
        #expect(change.key == ["id": id])
        #expect(change.record == nil)
        #expect(change.membership == nil)
    }

    @Test func aLoggedRowTravelsAsTheRecordExceptForADelete() throws {
        let message = UUID().uuidString.lowercased()
        func logged(_ type: String, record: String) -> String {
            #"{"table":"reactions","type":"\#(type)","conversation_id":"\#(conversation)","key":{"message_id":"\#(message)","user_id":"\#(user)"},"record":\#(record)}"#
        }
        let row = #"{"message_id":"\#(message)","emoji":"👍"}"#
        let inserted = try #require(ChatOutsideWrites.change(from: logged("INSERT", record: row)))
        #expect(inserted.record == .object(["message_id": .string(message), "emoji": .string("👍")]))
        #expect(try #require(ChatOutsideWrites.change(from: logged("DELETE", record: row))).record == nil)
        let notAnObject = try #require(ChatOutsideWrites.change(from: logged("UPDATE", record: "[\(row)]")))
        #expect(notAnObject.record == nil, "a record that is not an object is read on delivery instead")
    }

    @Test func anAddedOrRemovedParticipantChangesWhoSeesTheConversation() throws {
        let joined = try #require(ChatOutsideWrites.change(from: #"{"table":"participants","type":"INSERT","conversation_id":"\#(conversation)","key":{"user_id":"\#(user)"}}"#))
        #expect(joined.membership == .joined(user))
        let left = try #require(ChatOutsideWrites.change(from: #"{"table":"participants","type":"DELETE","conversation_id":"\#(conversation)","key":{"user_id":"\#(user)"}}"#))
        #expect(left.membership == .left(user))
    }

    @Test(arguments: [
        "", "{}", "[]", #"{"table":"profiles","type":"INSERT","conversation_id":"00000000-0000-0000-0000-000000000000","key":{}}"#,
        #"{"table":"messages","type":"TRUNCATE","conversation_id":"00000000-0000-0000-0000-000000000000","key":{}}"#,
        #"{"table":"messages","type":"INSERT","conversation_id":"nope","key":{}}"#,
        #"{"table":"messages","type":"INSERT","conversation_id":"00000000-0000-0000-0000-000000000000","key":{"id":1}}"#,
    ])
    func anythingElseIsIgnored(payload: String) {
        #expect(ChatOutsideWrites.change(from: payload) == nil)
    }
}
