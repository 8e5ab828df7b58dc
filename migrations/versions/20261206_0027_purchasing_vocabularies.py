"""the vocabularies of monthly invoices: payment documents (seed 003) and deduction reasons

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 07:10:00

Seed 003 names a month's payment documents: "көрсетілген қызметтер үшін шот-тізілім, қызметтерді сатып алу
шартын орындау хаттамасы және көрсетілген қызметтер актісі". Deductions follow the monitoring of the quality and
the volume of the services ("көрсетілетін қызметтердің сапасы мен көлемі мониторингінің нәтижелерін ескере
отырып"); `other` keeps a reason the list does not name (its text says which). Rows are data: more can be added.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        INSERT INTO payment_document_kind (code, name_kk, name_ru, required, position) VALUES
          ('invoice_register', 'Көрсетілген қызметтер үшін шот-тізілім', 'Счет-реестр за оказанные услуги', true, 1),
          ('contract_execution_protocol', 'Қызметтерді сатып алу шартын орындау хаттамасы',
           'Протокол исполнения договора закупа услуг', true, 2),
          ('services_act', 'Көрсетілген қызметтер актісі', 'Акт оказанных услуг', true, 3)
        ON CONFLICT (code) DO NOTHING"""
    )
    op.execute(
        """
        INSERT INTO invoice_deduction_reason (code, name_kk, name_ru, position) VALUES
          ('quality_monitoring', 'Көрсетілетін қызметтердің сапасы мониторингінің нәтижесі',
           'По результатам мониторинга качества оказанных услуг', 1),
          ('volume_monitoring', 'Көрсетілетін қызметтердің көлемі мониторингінің нәтижесі',
           'По результатам мониторинга объема оказанных услуг', 2),
          ('other', 'Басқа себеп', 'Иная причина', 3)
        ON CONFLICT (code) DO NOTHING"""
    )


def downgrade() -> None:
    op.execute(
        "DELETE FROM invoice_deduction_reason WHERE code IN ('quality_monitoring', 'volume_monitoring', 'other')"
    )
    op.execute(
        "DELETE FROM payment_document_kind WHERE code IN "
        "('invoice_register', 'contract_execution_protocol', 'services_act')"
    )
