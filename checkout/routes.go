package checkout

// ResultTypes are the types of the records whose results OnResult takes;
// the daemon registers them with the link's router, so that the flow is
// handed the answers to its own records only.
var ResultTypes = []string{RecordPaymentAuth, RecordPaymentQuery, RecordPaymentReverse, RecordPaymentRefund, RecordPaymentVoid}

// Commands are the names of the platform's commands that ApplyCommand
// takes, registered with the link's router likewise.
var Commands = []string{CommandOfflineLimits, CommandPromotions, CommandConfig, CommandQRPaid}

// QRResultTypes are the types of the records whose results OnQRResult
// takes.
var QRResultTypes = []string{RecordQROrder, RecordQRCancel, RecordQRExpire}
