/// SQL fragments shared by the chat queries.
enum ChatSQL {
    /// A message as clients (and realtime records) see it; `client_msg_id` only to its sender.
    static func messageJSON(_ alias: String) -> String {
        """
        jsonb_build_object('id', \(alias).id, 'conversation_id', \(alias).conversation_id, 'sender_id', \(alias).sender_id, \
        'seq', \(alias).seq, 'kind', \(alias).kind, 'body', \(alias).body, 'attachment', \(alias).attachment, \
        'reply_to_id', \(alias).reply_to_id, 'edited_at', \(alias).edited_at, 'deleted_at', \(alias).deleted_at, \
        'created_at', \(alias).created_at, 'updated_at', \(alias).updated_at, \
        'call', \(alias).call, 'forwarded_from', \(alias).forwarded_from, \
        'client_msg_id', CASE WHEN \(alias).sender_id = auth.uid() THEN \(alias).client_msg_id END, \
        'reactions', coalesce((SELECT jsonb_agg(jsonb_build_object('user_id', r.user_id, 'emoji', r.emoji) ORDER BY r.created_at)
                               FROM public.reactions r WHERE r.message_id = \(alias).id), '[]'::jsonb))
        """
    }

    /// A participant's public profile.
    static func profileJSON(_ alias: String) -> String {
        """
        jsonb_build_object('id', \(alias).id, 'username', \(alias).username, 'display_name', \(alias).display_name, \
        'avatar_url', \(alias).avatar_url, 'last_seen_at', \(alias).last_seen_at)
        """
    }

    /// A reaction as realtime records it (`public.chat_reaction_record`, migration 0047): its
    /// row `alias` plus its message's conversation (not a column of `reactions`), given as the
    /// SQL expression `conversation`.
    static func reactionRecord(_ alias: String, conversation: String) -> String {
        "public.chat_reaction_record(\(alias), \(conversation))"
    }

    /// A participant as realtime records it, without `muted_until`
    /// (`public.chat_participant_record`, migration 0047); `alias` names a row of `participants`.
    static func participantRecord(_ alias: String) -> String {
        "public.chat_participant_record(\(alias))"
    }
}
