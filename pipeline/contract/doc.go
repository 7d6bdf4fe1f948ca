// Package contract is what every part of photodesk agrees on, and nothing
// else: the streams and subjects, the events and their Nats-Msg-Id rules,
// which object keys are valid, and the one table of stages. It uses the
// standard library only, so a newsroom system, a schema generator or a
// test can take the contract without NATS, S3 or telemetry.
package contract
