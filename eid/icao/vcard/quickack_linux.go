package vcard

import "syscall"

const tcpQuickACK = syscall.TCP_QUICKACK
