;;; codex-lsp.el --- Codex commands for eglot and codex-lsp  -*- lexical-binding: t; -*-

;; Version: 0.1.0
;; Package-Requires: ((emacs "28.1") (eglot "1.9"))
;; Keywords: tools, languages

;;; Commentary:

;; codex-lsp is a language server whose code actions ask a coding model to rewrite the
;; selection.  eglot runs its code actions as they are (`eglot-code-actions'); this
;; file adds what plain eglot lacks:
;;
;;  - `codex-lsp-ask', `codex-lsp-explain', `codex-lsp-reset-chain', `codex-lsp-chain'
;;    and `codex-lsp-cancel';
;;  - Codex commands, the code actions' included, that do not block Emacs while the
;;    model works (plain eglot 1.9 waits, then gives up after 10 s while the edit still
;;    arrives later) and whose failures show once: the server shows every failure
;;    itself (window/showMessage), so the error reply is not shown again.
;;
;; Tested with Emacs 28.2 and eglot 1.9 (Debian 12).  See editors/emacs/README.md.

;;; Code:

(require 'cl-lib)
(require 'eglot)
(require 'jsonrpc)

(defgroup codex-lsp nil
  "Codex commands for eglot and codex-lsp."
  :group 'eglot
  :prefix "codex-lsp-")

(defcustom codex-lsp-request-timeout 900
  "Seconds Emacs waits for a Codex command's answer.
The server bounds each model call itself (its `timeoutSecs' setting, 120 s by
default, retries included); this only stops Emacs from waiting forever."
  :type 'number)

(defvar codex-lsp-command-functions nil
  "Abnormal hook run when a Codex command has answered.
Each function gets COMMAND (a symbol such as `codex.ask'), RESULT (the
command's result, a plist, or nil) and ERROR (nil, or the JSON-RPC error: a
plist with :code, :message and :data).")

(defvar codex-lsp--running nil
  "Codex commands waiting for their answer: a list of (TOKEN . SERVER).")

(defvar codex-lsp--counter 0)

(defun codex-lsp--message (format &rest args)
  "Show FORMAT with ARGS, prefixed with \"codex: \"."
  (apply #'message (concat "codex: " format) args))

(defun codex-lsp-error-kind (error)
  "The `data.kind' of the JSON-RPC ERROR (see docs/protocol.md), or nil."
  (let ((data (plist-get error :data)))
    (cond ((and (consp data) (stringp (plist-get data :kind))) (plist-get data :kind))
          ((eql (plist-get error :code) -32800) "cancelled"))))

(defun codex-lsp--done (token command result error)
  "COMMAND, started under progress TOKEN, answered RESULT or ERROR."
  (setq codex-lsp--running (cl-remove token codex-lsp--running :key #'car :test #'equal))
  (let ((kind (codex-lsp-error-kind error)))
    (cond
     (error
      (cond ((equal kind "cancelled") (codex-lsp--message "cancelled"))
            ;; every other failure of codex-lsp's was already shown by the server
            (kind nil)
            (t (codex-lsp--message "%s" (or (plist-get error :message) error)))))
     ((eq command 'codex.resetChain)
      (codex-lsp--message "conversation chain reset"))
     ((eq command 'codex.chainInfo)
      (if (plist-get result :responseId)
          (codex-lsp--message "chain %s (%s turns)"
                              (plist-get result :responseId) (plist-get result :turns))
        (codex-lsp--message "no conversation chain for this file")))))
  (run-hook-with-args 'codex-lsp-command-functions command result error))

(defun codex-lsp-execute (server command arguments)
  "Send COMMAND with ARGUMENTS (a vector) to SERVER; return at once.
The command carries a work-done token, which `codex-lsp-cancel' uses.  The
answer is handled by `codex-lsp--done'.  Returns the token."
  (let ((token (format "codex-el/%d" (cl-incf codex-lsp--counter))))
    (push (cons token server) codex-lsp--running)
    (when (memq command '(codex.runAction codex.ask codex.explain))
      (codex-lsp--message "asking the model… (M-x codex-lsp-cancel to cancel)"))
    (jsonrpc-async-request
     server :workspace/executeCommand
     `(:command ,(format "%s" command) :arguments ,arguments :workDoneToken ,token)
     :success-fn (lambda (result) (codex-lsp--done token command result nil))
     :error-fn (lambda (error) (codex-lsp--done token command nil error))
     :timeout-fn (lambda ()
                   (codex-lsp--done token command nil
                                    (list :code -32603
                                          :message (format "no answer after %s s (codex-lsp-request-timeout)"
                                                           codex-lsp-request-timeout))))
     :timeout codex-lsp-request-timeout)
    token))

;; The code actions run `codex.runAction' through `eglot-execute-command': send it
;; (and the other Codex commands) without waiting.
(cl-defmethod eglot-execute-command (server (_command (eql 'codex.runAction)) arguments)
  "Run the Codex code action without waiting for the model (codex-lsp.el)."
  (codex-lsp-execute server 'codex.runAction arguments))
(cl-defmethod eglot-execute-command (server (_command (eql 'codex.ask)) arguments)
  "Run `codex.ask' without waiting for the model (codex-lsp.el)."
  (codex-lsp-execute server 'codex.ask arguments))
(cl-defmethod eglot-execute-command (server (_command (eql 'codex.explain)) arguments)
  "Run `codex.explain' without waiting for the model (codex-lsp.el)."
  (codex-lsp-execute server 'codex.explain arguments))
(cl-defmethod eglot-execute-command (server (_command (eql 'codex.resetChain)) arguments)
  "Run `codex.resetChain' (codex-lsp.el)."
  (codex-lsp-execute server 'codex.resetChain arguments))
(cl-defmethod eglot-execute-command (server (_command (eql 'codex.chainInfo)) arguments)
  "Run `codex.chainInfo' (codex-lsp.el)."
  (codex-lsp-execute server 'codex.chainInfo arguments))

(defun codex-lsp--server ()
  "The eglot server of the current buffer, or a user error."
  (or (eglot-current-server)
      (user-error "codex: eglot is not managing this buffer (M-x eglot)")))

(defun codex-lsp--bounds ()
  "The region's bounds if it is active, else the current line's.
The current line includes its line break."
  (if (use-region-p)
      (list (region-beginning) (region-end))
    (list (line-beginning-position) (min (point-max) (1+ (line-end-position))))))

(defun codex-lsp--document (&optional beg end)
  "The `uri' and `version' of the buffer (and the `range' BEG..END), as a plist.
Sends the buffer's pending changes first: eglot sends them lazily, and the
range must be read in the version the server has."
  (eglot--signal-textDocument/didChange)
  (append (list :uri (plist-get (eglot--TextDocumentIdentifier) :uri))
          (when beg
            (list :range (list :start (eglot--pos-to-lsp-position beg)
                               :end (eglot--pos-to-lsp-position end))
                  :version eglot--versioned-identifier))))

;;;###autoload
(defun codex-lsp-ask (beg end instruction)
  "Ask the model to change the region BEG..END as INSTRUCTION says.
Without an active region, the current line.  The answer replaces the region."
  (interactive (append (codex-lsp--bounds)
                       (list (read-string "Codex instruction: "))))
  (when (string-empty-p (string-trim instruction))
    (user-error "codex: no instruction"))
  (codex-lsp-execute (codex-lsp--server) 'codex.ask
                     (vector (append (codex-lsp--document beg end)
                                     (list :instruction instruction)))))

;;;###autoload
(defun codex-lsp-explain (beg end)
  "Ask the model to explain the region BEG..END (without one, the current line).
The server shows the explanation as a message (in *Messages* too); the buffer
is not changed."
  (interactive (codex-lsp--bounds))
  (codex-lsp-execute (codex-lsp--server) 'codex.explain
                     (vector (codex-lsp--document beg end))))

;;;###autoload
(defun codex-lsp-reset-chain ()
  "Forget the conversation of this file: the next request starts a new one."
  (interactive)
  (codex-lsp-execute (codex-lsp--server) 'codex.resetChain
                     (vector (codex-lsp--document))))

;;;###autoload
(defun codex-lsp-chain ()
  "Show this file's conversation chain: its last response id and its turns."
  (interactive)
  (codex-lsp-execute (codex-lsp--server) 'codex.chainInfo
                     (vector (codex-lsp--document))))

;;;###autoload
(defun codex-lsp-cancel ()
  "Cancel the running Codex commands: nothing they would change is applied.
Sends `window/workDoneProgress/cancel' with each command's token."
  (interactive)
  (let ((n 0))
    (pcase-dolist (`(,token . ,server) codex-lsp--running)
      (when (jsonrpc-running-p server)
        (jsonrpc-notify server :window/workDoneProgress/cancel `(:token ,token))
        (cl-incf n)))
    (when (zerop n)
      (codex-lsp--message "no Codex command is running"))
    n))

(provide 'codex-lsp)
;;; codex-lsp.el ends here
