package contract

import (
	"encoding/json"
	"fmt"
)

// Output is an event ready to publish: its subject, its Nats-Msg-Id (the
// stream drops a second event with the same one) and its JSON body. A role
// returns its outputs to the runtime, which publishes every one before it
// acks the input, so a crash in between redelivers the input and
// Nats-Msg-Id drops the repeated outputs. Header is a NATS header (a
// nats.Header converts to it as it is).
type Output struct {
	Subject string
	MsgID   string
	Data    []byte
	Header  map[string][]string
}

// JSONOutput encodes v as an Output.
func JSONOutput(subject, msgID string, v any) (Output, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Output{}, fmt.Errorf("encode %s: %w", subject, err)
	}
	return Output{Subject: subject, MsgID: msgID, Data: b}, nil
}

// Decode unmarshals an event, with an error that names the subject.
func Decode(subject string, data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %s: %w", subject, err)
	}
	return nil
}
