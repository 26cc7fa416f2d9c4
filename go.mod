module github.com/workkit/realtime

go 1.26.0

require (
	github.com/cloudwego/netpoll v0.7.2
	github.com/golang-jwt/jwt/v5 v5.3.1
	github.com/puzpuzpuz/xsync/v3 v3.5.1
	github.com/valyala/bytebufferpool v1.0.0
	golang.org/x/sys v0.48.0
)

require (
	github.com/bytedance/gopkg v0.1.1 // indirect
	github.com/cloudwego/gopkg v0.1.4 // indirect
)
